#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// dst[n, dstStart + c, :] = src[n, srcStart + c, :] for c < count (concat, slice); total = N*count*plane.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Src { T src[]; };
layout(binding = 1) writeonly buffer Dst { T dst[]; };
layout(push_constant) uniform Params { uint at[2]; uint srcC, srcStart, dstC, dstStart, count, plane, total; } p;

void main() {
    uint src0 = FIRST_T(0), dst0 = FIRST_T(1);
    GRID_STRIDE(i, p.total) {
        uint pixel = i % p.plane;
        uint nc = i / p.plane;
        uint c = nc % p.count;
        uint n = nc / p.count;
        dst[dst0 + (n * p.dstC + p.dstStart + c) * p.plane + pixel] = src[src0 + (n * p.srcC + p.srcStart + c) * p.plane + pixel];
    }
}
