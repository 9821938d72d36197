#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Tiles out [C, positions] read through gather indices (GatherIndex in sdk-runtime), one entry per
// tile pixel: k >= 0 reads tiles[c, k] ([C, tilePositions]), -1 is padding (zero), any other entry
// reads map[c, -2 - k] ([C, plane]). A second source (index2 present) is added, and a per-channel
// vector (present); then, except on padding, act(v * scale[c] + shift[c]) (absent scale and
// shift: none). With spade set, the second source is SPADE's gamma and beta (2C channels) instead,
// and the value act((v * scale[c] + shift[c]) * (1 + gamma) + beta), scale and shift its batch norm.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Index { int index[]; };
layout(binding = 1) readonly buffer Tiles { T tiles[]; };
layout(binding = 2) readonly buffer Map { T map[]; };
layout(binding = 3) writeonly buffer Out { T outTiles[]; };
layout(binding = 4) readonly buffer Scale { float scale[]; };
layout(binding = 5) readonly buffer Shift { float shift[]; };
layout(binding = 6) readonly buffer Index2 { int index2[]; };
layout(binding = 7) readonly buffer Tiles2 { T tiles2[]; };
layout(binding = 8) readonly buffer Map2 { T map2[]; };
layout(binding = 9) readonly buffer Vector { T vector[]; };
layout(push_constant) uniform Params {
    uint at[10];
    uint positions, tilePositions, plane, tilePositions2, plane2, total, act;
    float slope;
    uint spade;
} p;

float second(uint c, uint q) {
    int k2 = index2[FIRST_32(6) + q];
    return k2 >= 0 ? float(tiles2[FIRST_T(7) + c * p.tilePositions2 + uint(k2)]) : float(map2[FIRST_T(8) + c * p.plane2 + uint(-2 - k2)]);
}

void main() {
    uint out0 = FIRST_T(3);
    GRID_STRIDE(i, p.total) {
        uint c = i / p.positions, q = i % p.positions;
        int k = index[FIRST_32(0) + q];
        float v = 0.0;
        if (k != -1) {
            v = k >= 0 ? float(tiles[FIRST_T(1) + c * p.tilePositions + uint(k)]) : float(map[FIRST_T(2) + c * p.plane + uint(-2 - k)]);
            if (p.at[6] != ABSENT && p.spade == 0u) v += second(c, q);
            if (p.at[9] != ABSENT) v += float(vector[FIRST_T(9) + c]);
            if (p.at[4] != ABSENT) v = v * scale[FIRST_32(4) + c] + shift[FIRST_32(5) + c];
            if (p.spade != 0u) v = v * (1.0 + second(c, q)) + second(p.total / p.positions + c, q);
            v = activate(v, p.act, p.slope);
        }
        outTiles[out0 + i] = T(v);
    }
}
