#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// DDPM's sinusoidal embedding of timesteps t [N] into out [N, dim]: sin(t f_k) for k < half, then
// cos(t f_k), then 0 if dim is odd. The frequencies f_k come from the host, computed as the CPU
// backend does, so the arguments are the same floats.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Timesteps { T t[]; };
layout(binding = 1) readonly buffer Frequencies { float frequency[]; };
layout(binding = 2) writeonly buffer Out { T outs[]; };
layout(push_constant) uniform Params { uint at[3]; uint n, dim; } p;

// sin and cos of x to about 1e-7 for |x| up to a few thousand (GLSL's sin is only specified to
// 2^-11 absolute): reduction by pi/2 split into three parts (the first two of 11 bits, so q * part
// is exact), then Taylor series on [-pi/4, pi/4].
vec2 sinCos(float x) {
    float q = round(x * 0.63661977236758134);
    float r = ((x - q * 1.5703125) - q * 4.837512969970703e-4) - q * 7.549790126404332e-8;
    float r2 = r * r;
    float s = r * (1.0 + r2 * (-1.0 / 6.0 + r2 * (1.0 / 120.0 + r2 * (-1.0 / 5040.0 + r2 * (1.0 / 362880.0)))));
    float c = 1.0 + r2 * (-0.5 + r2 * (1.0 / 24.0 + r2 * (-1.0 / 720.0 + r2 * (1.0 / 40320.0 + r2 * (-1.0 / 3628800.0)))));
    int quadrant = int(q) & 3;
    if (quadrant == 0) return vec2(s, c);
    if (quadrant == 1) return vec2(c, -s);
    if (quadrant == 2) return vec2(-s, -c);
    return vec2(-c, s);
}

void main() {
    uint half_ = p.dim / 2u;
    GRID_STRIDE(i, p.n * p.dim) {
        uint row = i / p.dim, k = i % p.dim;
        float v = 0.0;
        if (k < 2u * half_) {
            vec2 sc = sinCos(float(t[FIRST_T(0) + row]) * frequency[FIRST_32(1) + k % half_]);
            v = k < half_ ? sc.x : sc.y;
        }
        outs[FIRST_T(2) + i] = T(v);
    }
}
