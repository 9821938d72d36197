#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "reduce.glsl"
// The first step of group_norm_stats for large groups: each group of x [N, C, plane] cut into
// `parts` ranges, one workgroup per (n, group, part), each writing its range's element count,
// mean and sum of squared deviations from that mean (group_stats.glsl; the cache holds the range
// for the second pass) to parts [N * groups * parts][3].
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) writeonly buffer Parts { float parts[]; };
layout(push_constant) uniform Params { uint at[2]; uint channels, groups, plane, parts; } p;
#include "group_stats.glsl"

void main() {
    uint id = gl_WorkGroupID.x, group = id / p.parts, part = id % p.parts;
    uint n = group / p.groups, g = group % p.groups;
    uint groupChannels = p.channels / p.groups;
    uint count = groupChannels * p.plane, size = (count + p.parts - 1u) / p.parts;
    uint begin = min(count, part * size), end = min(count, begin + size);
    uint base = FIRST_T(0) + (n * p.channels + g * groupChannels) * p.plane;
    vec2 stats = meanAndSquares(base, begin, end);
    if (gl_LocalInvocationIndex == 0u) {
        parts[FIRST_32(1) + 3u * id] = float(end - begin);
        parts[FIRST_32(1) + 3u * id + 1u] = stats.x;
        parts[FIRST_32(1) + 3u * id + 2u] = stats.y;
    }
}
