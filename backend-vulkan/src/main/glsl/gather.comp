#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Tiles [C, count, th, tw] of a map (h x w) read from src [C, srcH, srcW]: pixel (r, q) of the map
// is src[rows[r], cols[q]] when index maps are given (a nearest resize read in place), else
// src[r, q]. Pixels outside the map are zero.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Src { T src[]; };
layout(binding = 1) writeonly buffer Tiles { T tiles[]; };
layout(binding = 2) readonly buffer Origins { int origins[]; };
layout(binding = 3) readonly buffer Rows { int rows[]; };
layout(binding = 4) readonly buffer Cols { int cols[]; };
layout(push_constant) uniform Params { uint at[5]; uint count, h, w, th, tw, srcH, srcW, total; } p;
#include "tiles.glsl"

void main() {
    uint src0 = FIRST_T(0), tiles0 = FIRST_T(1), origins0 = FIRST_32(2);
    bool resized = p.at[3] != ABSENT;
    GRID_STRIDE(i, p.total) {
        uint c, pixel;
        float v = 0.0;
        if (tilePixel(i, origins0, p.count, p.h, p.w, p.th, p.tw, c, pixel)) {
            uint r = pixel / p.w, q = pixel % p.w;
            if (resized) {
                r = uint(rows[FIRST_32(3) + r]);
                q = uint(cols[FIRST_32(4) + q]);
            }
            v = float(src[src0 + (c * p.srcH + r) * p.srcW + q]);
        }
        tiles[tiles0 + i] = T(v);
    }
}
