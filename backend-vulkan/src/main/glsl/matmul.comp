#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
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

// Element e of a staged chunk of an operand with {@code block} rows (columns) as (row or column, k):
// consecutive e run along the operand's contiguous dimension, so reads coalesce.
uvec2 stagedElement(uint e, uint block, bool contiguousK) {
    return contiguousK ? uvec2(e / TILE_K, e % TILE_K) : uvec2(e % block, e / block);
}

void main() {
    uint a0 = FIRST_T(0), b0 = FIRST_T(1), c0 = FIRST_T(2);
    uint t = gl_LocalInvocationIndex;
    uint m0 = gl_WorkGroupID.y * BLOCK_M;
    for (uint n0 = gl_WorkGroupID.x * BLOCK_N; n0 < p.n; n0 += gl_NumWorkGroups.x * BLOCK_N) {
        clearAccumulators();
        for (uint k0 = 0u; k0 < p.k; k0 += TILE_K) {
            for (uint e = t; e < BLOCK_M * TILE_K; e += 256u) {
                uvec2 rk = stagedElement(e, BLOCK_M, p.transA == 0u);
                uint row = m0 + rk.x, k = k0 + rk.y;
                stageA(rk.y, rk.x, row < p.m && k < p.k ? float(a[a0 + (p.transA != 0u ? k * p.lda + row : row * p.lda + k)]) : 0.0);
            }
            for (uint e = t; e < BLOCK_N * TILE_K; e += 256u) {
                uvec2 ck = stagedElement(e, BLOCK_N, p.transB != 0u);
                uint col = n0 + ck.x, k = k0 + ck.y;
                stageB(ck.y, ck.x, col < p.n && k < p.k ? float(b[b0 + (p.transB != 0u ? col * p.ldb + k : k * p.ldb + col)]) : 0.0);
            }
            barrier();
            multiplyStaged();
            barrier();
        }
        [[unroll]] for (uint i = 0u; i < ROWS; i++) {
            uint row = m0 + accRow(i);
            if (row >= p.m) continue;
            [[unroll]] for (uint cg = 0u; cg < COLS / 4u; cg++) {
                [[unroll]] for (uint j = 0u; j < 4u; j++) {
                    uint col = n0 + accColumn(cg) + j;
                    if (col >= p.n) continue;
                    float v = p.alpha * acc[i][cg][j];
                    if (p.at[3] != ABSENT) v += bias[FIRST_32(3) + col];
                    c[c0 + row * p.ldc + col] = T(v);
                }
            }
        }
    }
}
