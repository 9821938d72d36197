#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"
// The first step of group_norm_stats for large groups: each group of x [N, C, plane] cut into
// `parts` ranges, one workgroup per (n, group, part), each writing its range's element count,
// mean and sum of squared deviations from that mean (two passes over the range, which the cache
// holds) to parts [N * groups * parts][3].
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) writeonly buffer Parts { float parts[]; };
layout(push_constant) uniform Params { uint at[2]; uint channels, groups, plane, parts; } p;

void main() {
    uint id = gl_WorkGroupID.x, group = id / p.parts, part = id % p.parts;
    uint n = group / p.groups, g = group % p.groups;
    uint groupChannels = p.channels / p.groups;
    uint count = groupChannels * p.plane, size = (count + p.parts - 1u) / p.parts;
    uint begin = min(count, part * size), end = min(count, begin + size);
    uint base = FIRST_T(0) + (n * p.channels + g * groupChannels) * p.plane;
    float sum = 0.0;
    for (uint i = begin + gl_LocalInvocationIndex; i < end; i += 256u) sum += float(x[base + i]);
    float mean = end > begin ? workgroupSum(sum) / float(end - begin) : 0.0;
    float squares = 0.0;
    for (uint i = begin + gl_LocalInvocationIndex; i < end; i += 256u) {
        float d = float(x[base + i]) - mean;
        squares += d * d;
    }
    squares = workgroupSum(squares);
    if (gl_LocalInvocationIndex == 0u) {
        parts[FIRST_32(1) + 3u * id] = float(end - begin);
        parts[FIRST_32(1) + 3u * id + 1u] = mean;
        parts[FIRST_32(1) + 3u * id + 2u] = squares;
    }
}
