#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"
// Group norm of x [N, C, plane] folded with its affine into per-(n, c) scale and shift:
// y = x * scale[n*C + c] + shift[n*C + c]. One workgroup per (n, group); the variance is taken
// around the mean (two passes over the group) so float32 sums stay accurate.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) readonly buffer Weight { float weight[]; };
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) writeonly buffer Scale { float scale[]; };
layout(binding = 4) writeonly buffer Shift { float shift[]; };
layout(push_constant) uniform Params { uint at[5]; uint channels, groups, plane; float eps; } p;

void main() {
    uint n = gl_WorkGroupID.x / p.groups, g = gl_WorkGroupID.x % p.groups;
    uint groupChannels = p.channels / p.groups;
    uint count = groupChannels * p.plane;
    uint base = FIRST_T(0) + (n * p.channels + g * groupChannels) * p.plane;
    float sum = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < count; i += 256u) sum += float(x[base + i]);
    float mean = workgroupSum(sum) / float(count);
    float squares = 0.0;
    for (uint i = gl_LocalInvocationIndex; i < count; i += 256u) {
        float d = float(x[base + i]) - mean;
        squares += d * d;
    }
    float inv = inversesqrt(workgroupSum(squares) / float(count) + p.eps);
    for (uint c = g * groupChannels + gl_LocalInvocationIndex; c < (g + 1u) * groupChannels; c += 256u) {
        float w = weight[FIRST_32(1) + c] * inv;
        scale[FIRST_32(3) + n * p.channels + c] = w;
        shift[FIRST_32(4) + n * p.channels + c] = bias[FIRST_32(2) + c] - mean * w;
    }
}
