#version 450
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
// Row-major C[m, n] = alpha op(A)[m, k] op(B)[k, n] (+ bias[n] when given), op a transpose when
// asked: attention's products and linear layers.
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer A { T a[]; };
layout(binding = 1) readonly buffer B { T b[]; };
layout(binding = 2) writeonly buffer C { T c[]; };
layout(binding = 3) readonly buffer Bias { float bias[]; };
layout(push_constant) uniform Params { uint at[4]; uint m, n, k, lda, ldb, ldc, transA, transB; float alpha; } p;
#include "gemm.glsl"

// Operand element e (< TILE * TILE_K) of a staged chunk as (row or column, k): consecutive e run
// along the operand's contiguous dimension, so reads coalesce.
uvec2 stagedElement(uint e, bool contiguousK) {
    return contiguousK ? uvec2(e / TILE_K, e % TILE_K) : uvec2(e % TILE, e / TILE);
}

void main() {
    uint a0 = FIRST_T(0), b0 = FIRST_T(1), c0 = FIRST_T(2);
    uint t = gl_LocalInvocationIndex, tx = t % 16u, ty = t / 16u;
    uint m0 = gl_WorkGroupID.y * TILE;
    for (uint n0 = gl_WorkGroupID.x * TILE; n0 < p.n; n0 += gl_NumWorkGroups.x * TILE) {
        clearAccumulators();
        for (uint k0 = 0u; k0 < p.k; k0 += TILE_K) {
            for (uint i = 0u; i < 4u; i++) {
                uvec2 e = stagedElement(t + 256u * i, p.transA == 0u);
                uint row = m0 + e.x, k = k0 + e.y;
                stagedA[e.y][e.x] = row < p.m && k < p.k ? float(a[a0 + (p.transA != 0u ? k * p.lda + row : row * p.lda + k)]) : 0.0;
            }
            for (uint i = 0u; i < 4u; i++) {
                uvec2 e = stagedElement(t + 256u * i, p.transB != 0u);
                uint col = n0 + e.x, k = k0 + e.y;
                stagedB[e.y][e.x] = col < p.n && k < p.k ? float(b[b0 + (p.transB != 0u ? col * p.ldb + k : k * p.ldb + col)]) : 0.0;
            }
            barrier();
            multiplyStaged();
            barrier();
        }
        for (uint i = 0u; i < 4u; i++) {
            uint row = m0 + ty + 16u * i;
            if (row >= p.m) continue;
            for (uint j = 0u; j < 4u; j++) {
                uint col = n0 + tx + 16u * j;
                if (col >= p.n) continue;
                float v = p.alpha * acc[i][j];
                if (p.at[3] != ABSENT) v += bias[FIRST_32(3) + col];
                c[c0 + row * p.ldc + col] = T(v);
            }
        }
    }
}
