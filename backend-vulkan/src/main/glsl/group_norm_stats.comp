#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"
// Group norm of x [N, C, plane] folded with its affine into per-(n, c) scale and shift:
// y = x * scale[n*C + c] + shift[n*C + c]. One workgroup per (n, group); the variance is taken
// around the mean (two passes over the group) so float32 sums stay accurate. Large groups come
// cut into `parts` (at most 256) by group_norm_parts, whose counts, means and squared deviations
// combine here (Chan et al.) instead of reading x.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) readonly buffer Weight { float weight[]; };
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) writeonly buffer Scale { float scale[]; };
layout(binding = 4) writeonly buffer Shift { float shift[]; };
layout(binding = 5) readonly buffer Parts { float parts[]; };
layout(push_constant) uniform Params { uint at[6]; uint channels, groups, plane; float eps; uint parts; } p;
#include "group_stats.glsl"

void main() {
    uint n = gl_WorkGroupID.x / p.groups, g = gl_WorkGroupID.x % p.groups;
    uint groupChannels = p.channels / p.groups;
    uint count = groupChannels * p.plane;
    uint base = FIRST_T(0) + (n * p.channels + g * groupChannels) * p.plane;
    float mean, variance;
    if (p.parts > 1u) {
        uint i = gl_LocalInvocationIndex, at = FIRST_32(5) + 3u * (gl_WorkGroupID.x * p.parts + i);
        float partCount = i < p.parts ? parts[at] : 0.0, partMean = i < p.parts ? parts[at + 1u] : 0.0;
        mean = workgroupSum(partCount * partMean) / float(count);
        float d = partMean - mean;
        variance = workgroupSum(i < p.parts ? parts[at + 2u] + partCount * d * d : 0.0) / float(count);
    } else {
        vec2 stats = meanAndSquares(base, 0u, count);
        mean = stats.x;
        variance = stats.y / float(count);
    }
    float inv = inversesqrt(variance + p.eps);
    for (uint c = g * groupChannels + gl_LocalInvocationIndex; c < (g + 1u) * groupChannels; c += 256u) {
        float w = weight[FIRST_32(1) + c] * inv;
        scale[FIRST_32(3) + n * p.channels + c] = w;
        shift[FIRST_32(4) + n * p.channels + c] = bias[FIRST_32(2) + c] - mean * w;
    }
}
