#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_NV_cooperative_matrix2 : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define F16
#include "common.glsl"
// A batch of matrix products C[z] = A[z] B[z] on tensor cores: float16 A [m][k], B [k][n] and C
// [m][n] (float32 sums, stored as float16: half the traffic of float32 products), all row-major.
// Each workgroup computes BM x BN blocks of C as one workgroup-scope cooperative matrix
// (VK_NV_cooperative_matrix2), loading its operands through tensor layouts: the driver stages and
// pipelines the loads, and clamping reads zeros past the matrices' edges (any m, n and k) and
// stores nothing there. Workgroup row gl_WorkGroupID.y is block row y % rowBlocks of product
// y / rowBlocks; workgroups loop over the block columns. Winograd's 16 (F(2x2)) or 36 (F(4x4))
// frequency products run as one launch (VulkanExecutor.winogradConv).
layout(local_size_x_id = 3) in;
layout(constant_id = 0) const uint BM = 128u;
layout(constant_id = 1) const uint BN = 128u;
layout(constant_id = 2) const uint BK = 32u;
layout(binding = 0) readonly buffer A { T a[]; };
layout(binding = 1) readonly buffer B { T b[]; };
layout(binding = 2) writeonly buffer C { T c[]; };
layout(push_constant) uniform Params {
    uint at[3];
    uint m, n, k;
    uint lda, ldb, ldc;  // elements between rows
    uint batchA, batchB, batchC;  // elements between consecutive products' matrices
} p;

void main() {
    uint rowBlocks = (p.m + BM - 1u) / BM, z = gl_WorkGroupID.y / rowBlocks, m0 = (gl_WorkGroupID.y % rowBlocks) * BM;
    uint firstA = FIRST_T(0) + z * p.batchA, firstB = FIRST_T(1) + z * p.batchB, firstC = FIRST_T(2) + z * p.batchC;
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> la = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> lb = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    tensorLayoutNV<2, gl_CooperativeMatrixClampModeConstantNV> lc = createTensorLayoutNV(2, gl_CooperativeMatrixClampModeConstantNV);
    la = setTensorLayoutStrideNV(setTensorLayoutDimensionNV(la, p.m, p.k), p.lda, 1u);
    lb = setTensorLayoutStrideNV(setTensorLayoutDimensionNV(lb, p.k, p.n), p.ldb, 1u);
    lc = setTensorLayoutStrideNV(setTensorLayoutDimensionNV(lc, p.m, p.n), p.ldc, 1u);
    for (uint n0 = gl_WorkGroupID.x * BN; n0 < p.n; n0 += gl_NumWorkGroups.x * BN) {
        coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> sum =
            coopmat<float, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>(0.0);
        for (uint k0 = 0u; k0 < p.k; k0 += BK) {
            coopmat<float16_t, gl_ScopeWorkgroup, BM, BK, gl_MatrixUseA> ma;
            coopmat<float16_t, gl_ScopeWorkgroup, BK, BN, gl_MatrixUseB> mb;
            coopMatLoadTensorNV(ma, a, firstA, sliceTensorLayoutNV(la, m0, BM, k0, BK));
            coopMatLoadTensorNV(mb, b, firstB, sliceTensorLayoutNV(lb, k0, BK, n0, BN));
            sum = coopMatMulAdd(ma, mb, sum);
        }
        coopmat<float16_t, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator> stored =
            coopmat<float16_t, gl_ScopeWorkgroup, BM, BN, gl_MatrixUseAccumulator>(sum);
        coopMatStoreTensorNV(stored, c, firstC, sliceTensorLayoutNV(lc, m0, BM, n0, BN));
    }
}
