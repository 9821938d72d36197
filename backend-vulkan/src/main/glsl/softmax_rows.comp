#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"
// Softmax of each row of a [rows, cols] times scale, in place; one workgroup per row.
layout(local_size_x = 256) in;
layout(binding = 0) buffer A { T a[]; };
layout(push_constant) uniform Params { uint at[1]; uint cols; float scale; } p;

void main() {
    uint row = FIRST_T(0) + gl_WorkGroupID.x * p.cols;
    float m = uintBitsToFloat(0xFF800000u); // -infinity
    for (uint j = gl_LocalInvocationIndex; j < p.cols; j += 256u) m = max(m, p.scale * float(a[row + j]));
    m = workgroupMax(m);
    float sum = 0.0;
    for (uint j = gl_LocalInvocationIndex; j < p.cols; j += 256u) sum += exp(p.scale * float(a[row + j]) - m);
    float inv = 1.0 / workgroupSum(sum);
    for (uint j = gl_LocalInvocationIndex; j < p.cols; j += 256u) a[row + j] = T(exp(p.scale * float(a[row + j]) - m) * inv);
}
