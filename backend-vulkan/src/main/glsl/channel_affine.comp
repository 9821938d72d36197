#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// y = act(x * scale[k] + shift[k]), k = (i / plane) % channels; an absent scale is 1, an absent
// shift 0. Serves biases, batch norm, group norm affines and plain activations. x may be y.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) writeonly buffer Y { T y[]; };
layout(binding = 2) readonly buffer Scale { float scale[]; };
layout(binding = 3) readonly buffer Shift { float shift[]; };
layout(push_constant) uniform Params { uint at[4]; uint channels, plane, total, act; float slope; } p;

void main() {
    uint x0 = FIRST_T(0), y0 = FIRST_T(1), scale0 = FIRST_32(2), shift0 = FIRST_32(3);
    GRID_STRIDE(i, p.total) {
        uint k = (i / p.plane) % p.channels;
        float v = float(x[x0 + i]);
        if (p.at[2] != ABSENT) v *= scale[scale0 + k];
        if (p.at[3] != ABSENT) v += shift[shift0 + k];
        y[y0 + i] = T(activate(v, p.act, p.slope));
    }
}
