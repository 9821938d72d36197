#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Writes the in-map pixels of tiles [C, count, th, tw] into the map dst [C, h, w].
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Tiles { T tiles[]; };
layout(binding = 1) writeonly buffer Dst { T dst[]; };
layout(binding = 2) readonly buffer Origins { int origins[]; };
layout(push_constant) uniform Params { uint at[3]; uint count, h, w, th, tw, total; } p;
#include "tiles.glsl"

void main() {
    uint tiles0 = FIRST_T(0), dst0 = FIRST_T(1), origins0 = FIRST_32(2);
    GRID_STRIDE(i, p.total) {
        uint c, pixel;
        if (tilePixel(i, origins0, p.count, p.h, p.w, p.th, p.tw, c, pixel)) dst[dst0 + c * p.h * p.w + pixel] = tiles[tiles0 + i];
    }
}
