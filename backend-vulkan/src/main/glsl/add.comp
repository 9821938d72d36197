#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// y = act(a + b); b is a's shape, or per (n, c) when perChannel (b[i / plane]). y may be a.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer A { T a[]; };
layout(binding = 1) readonly buffer B { T b[]; };
layout(binding = 2) writeonly buffer Y { T y[]; };
layout(push_constant) uniform Params { uint at[3]; uint plane, perChannel, total, act; float slope; } p;

void main() {
    uint a0 = FIRST_T(0), b0 = FIRST_T(1), y0 = FIRST_T(2);
    GRID_STRIDE(i, p.total) {
        float v = float(a[a0 + i]) + float(b[b0 + (p.perChannel != 0u ? i / p.plane : i)]);
        y[y0 + i] = T(activate(v, p.act, p.slope));
    }
}
