#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Tiles out [C, positions] read through a gather index (GatherIndex in sdk-runtime), one entry per
// tile pixel: k >= 0 reads tiles[c, k] ([C, tilePositions]), -1 reads zero (padding), any other
// entry reads map[c, -2 - k] ([C, plane]); then, except on padding, act(v * scale[c] + shift[c])
// (absent scale and shift: none).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Index { int index[]; };
layout(binding = 1) readonly buffer Tiles { T tiles[]; };
layout(binding = 2) readonly buffer Map { T map[]; };
layout(binding = 3) writeonly buffer Out { T outTiles[]; };
layout(binding = 4) readonly buffer Scale { float scale[]; };
layout(binding = 5) readonly buffer Shift { float shift[]; };
layout(push_constant) uniform Params { uint at[6]; uint positions, tilePositions, plane, total, act; float slope; } p;

void main() {
    uint index0 = FIRST_32(0), tiles0 = FIRST_T(1), map0 = FIRST_T(2), out0 = FIRST_T(3);
    GRID_STRIDE(i, p.total) {
        uint c = i / p.positions;
        int k = index[index0 + i % p.positions];
        float v = 0.0;
        if (k != -1) {
            v = k >= 0 ? float(tiles[tiles0 + c * p.tilePositions + uint(k)]) : float(map[map0 + c * p.plane + uint(-2 - k)]);
            if (p.at[4] != ABSENT) v = v * scale[FIRST_32(4) + c] + shift[FIRST_32(5) + c];
            v = activate(v, p.act, p.slope);
        }
        outTiles[out0 + i] = T(v);
    }
}
