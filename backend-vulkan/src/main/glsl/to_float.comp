#version 450
#extension GL_GOOGLE_include_directive : require
#define F16
#include "common.glsl"
// float16 to float32 maps (downloads in float16 mode).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { float16_t x[]; };
layout(binding = 1) writeonly buffer Y { float y[]; };
layout(push_constant) uniform Params { uint at[2]; uint total; } p;

void main() {
    GRID_STRIDE(i, p.total) y[FIRST_32(1) + i] = float(x[FIRST_T(0) + i]);
}
