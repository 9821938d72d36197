#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Zeroes the pixels of tiles [C, count, th, tw] that lie outside their map (after ops that do not keep 0 at 0).
layout(local_size_x = 256) in;
layout(binding = 0) buffer Tiles { T tiles[]; };
layout(binding = 1) readonly buffer Origins { int origins[]; };
layout(push_constant) uniform Params { uint at[2]; uint count, h, w, th, tw, total; } p;
#include "tiles.glsl"

void main() {
    uint tiles0 = FIRST_T(0), origins0 = FIRST_32(1);
    GRID_STRIDE(i, p.total) {
        uint c, pixel;
        if (!tilePixel(i, origins0, p.count, p.h, p.w, p.th, p.tw, c, pixel)) tiles[tiles0 + i] = T(0.0);
    }
}
