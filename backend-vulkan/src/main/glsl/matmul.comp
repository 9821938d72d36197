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

// Loaded element i of an operand with block rows (columns) in the block, as (row or column,
// k): consecutive invocations run along the operand's contiguous dimension, so reads coalesce.
uvec2 chunkElement(uint i, uint block, bool contiguousK) {
    uint e = gl_LocalInvocationIndex + 256u * i;
    return contiguousK ? uvec2(e / TILE_K, e % TILE_K) : uvec2(e % block, e / block);
}
uvec2 aElement(uint i) { return chunkElement(i, BLOCK_M, p.transA == 0u); }
uvec2 bElement(uint i) { return chunkElement(i, BLOCK_N, p.transB != 0u); }

uint m0, n0; // the block's first row and column

void loadChunk(uint k0) {
    [[unroll]] for (uint i = 0u; i < A_LOADS; i++) {
        uvec2 e = aElement(i);
        uint row = m0 + e.x, k = k0 + e.y;
        loadedA[i] = row < p.m && k < p.k ? float(a[FIRST_T(0) + (p.transA != 0u ? k * p.lda + row : row * p.lda + k)]) : 0.0;
    }
    [[unroll]] for (uint i = 0u; i < B_LOADS; i++) {
        uvec2 e = bElement(i);
        uint col = n0 + e.x, k = k0 + e.y;
        loadedB[i] = col < p.n && k < p.k ? float(b[FIRST_T(1) + (p.transB != 0u ? col * p.ldb + k : k * p.ldb + col)]) : 0.0;
    }
}

void main() {
    uint c0 = FIRST_T(2);
    m0 = gl_WorkGroupID.y * BLOCK_M;
    for (n0 = gl_WorkGroupID.x * BLOCK_N; n0 < p.n; n0 += gl_NumWorkGroups.x * BLOCK_N) {
        multiply(p.k);
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
