#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// SPADE: y = act((x * scale[c] + shift[c]) * (1 + gamma) + beta) with gammaBeta [N, 2C, plane]
// (gamma first) and x, y [N, C, plane].
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) readonly buffer GammaBeta { T gb[]; };
layout(binding = 2) writeonly buffer Y { T y[]; };
layout(binding = 3) readonly buffer Scale { float scale[]; };
layout(binding = 4) readonly buffer Shift { float shift[]; };
layout(push_constant) uniform Params { uint at[5]; uint channels, plane, total, act; float slope; } p;

void main() {
    uint x0 = FIRST_T(0), gb0 = FIRST_T(1), y0 = FIRST_T(2), scale0 = FIRST_32(3), shift0 = FIRST_32(4);
    GRID_STRIDE(i, p.total) {
        uint pixel = i % p.plane;
        uint nc = i / p.plane;
        uint c = nc % p.channels;
        uint n = nc / p.channels;
        uint g = (n * 2u * p.channels + c) * p.plane + pixel;
        float normalized = float(x[x0 + i]) * scale[scale0 + c] + shift[shift0 + c];
        float v = normalized * (1.0 + float(gb[gb0 + g])) + float(gb[gb0 + g + p.channels * p.plane]);
        y[y0 + i] = T(activate(v, p.act, p.slope));
    }
}
