#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Nearest resize of x [N*C, inH, inW] into y [N*C, outH, outW] through precomputed source rows and columns.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) writeonly buffer Y { T y[]; };
layout(binding = 2) readonly buffer Rows { int rows[]; };
layout(binding = 3) readonly buffer Cols { int cols[]; };
layout(push_constant) uniform Params { uint at[4]; uint inH, inW, outH, outW, total; } p;

void main() {
    uint x0 = FIRST_T(0), y0 = FIRST_T(1), rows0 = FIRST_32(2), cols0 = FIRST_32(3);
    GRID_STRIDE(i, p.total) {
        uint ox = i % p.outW;
        uint oy = (i / p.outW) % p.outH;
        uint nc = i / (p.outW * p.outH);
        y[y0 + i] = x[x0 + (nc * p.inH + uint(rows[rows0 + oy])) * p.inW + uint(cols[cols0 + ox])];
    }
}
