#version 450
#extension GL_GOOGLE_include_directive : require
#define F16
#include "common.glsl"
// float32 to float16 maps (uploads in float16 mode).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { float x[]; };
layout(binding = 1) writeonly buffer Y { float16_t y[]; };
layout(push_constant) uniform Params { uint at[2]; uint total; } p;

void main() {
    GRID_STRIDE(i, p.total) y[FIRST_T(1) + i] = float16_t(x[FIRST_32(0) + i]);
}
