#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#extension GL_KHR_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#define F16
#include "common.glsl"
// Convolution as an implicit GEMM (conv.glsl) on tensor cores: float16 maps and weights multiplied
// as 16x16x16 cooperative matrices with float32 sums (VK_KHR_cooperative_matrix), for devices whose
// subgroups have 32 invocations. A workgroup's 8 subgroups, SUBGROUPS_N along the columns, each
// compute a part of MATRICES_M x MATRICES_N matrices of the 128 x 32 output block (larger parts
// ran 2.5x slower on the H100, see Kernel.GemmShape). Both operands are staged through shared
// memory TILE_K rows of K at a time, the next chunk loading into registers while the current one
// is multiplied.
layout(local_size_x = 256) in;
const uint SUBGROUPS_N = 2u, MATRICES_M = 2u, MATRICES_N = 1u;
const uint PART_M = 16u * MATRICES_M, PART_N = 16u * MATRICES_N;
const uint BLOCK_M = (8u / SUBGROUPS_N) * PART_M, BLOCK_N = SUBGROUPS_N * PART_N, TILE_K = 32u;
#include "conv.glsl"
layout(binding = 1) readonly buffer W4 { uvec2 w4[]; };  // the weights, four halves at a time

// Staged chunks as vectors of four halves: A's rows [BLOCK_M][TILE_K] and B's columns
// [BLOCK_N][TILE_K] (B column-major), each padded by 16 bytes so that the rows of a matrix load
// fall in different banks.
const uint STRIDE = (TILE_K + 8u) / 4u;
shared uvec2 stagedA[BLOCK_M * STRIDE];
shared uvec2 stagedB[BLOCK_N * STRIDE];
// Each subgroup's 16 x 16 sums on their way to the output (bias, activation, layout).
shared float sums[8u * 256u];

// Invocation t loads vectors t + 256 i of A's chunk (row-major), and B_ROWS consecutive rows of
// block column t % BLOCK_N, from firstRow.
const uint A_VECTORS = BLOCK_M * TILE_K / 4u / 256u, B_ROWS = TILE_K * BLOCK_N / 256u;
uvec2 loadedA[A_VECTORS], loadedB[B_ROWS / 4u];  // the next chunk, on its way from global memory
uint t, firstRow;

// Four floats as four halves.
uvec2 halves(vec4 v) {
    return uvec2(packFloat2x16(f16vec2(v.xy)), packFloat2x16(f16vec2(v.zw)));
}

void loadChunk(uint k0) {
    uint kSize = kernelSize();
    bool vectors = p.wColumn == 1u && p.wRow % 4u == 0u && kSize % 4u == 0u && FIRST_T(1) % 4u == 0u;
    [[unroll]] for (uint i = 0u; i < A_VECTORS; i++) {
        uint e = t + 256u * i, m = m0 + e / (TILE_K / 4u), k = k0 + 4u * (e % (TILE_K / 4u));
        if (vectors) {
            loadedA[i] = m < p.outC && k < kSize ? w4[(FIRST_T(1) + m * p.wRow + k) / 4u] : uvec2(0u);
        } else {
            loadedA[i] = halves(vec4(weight(m, k), weight(m, k + 1u), weight(m, k + 2u), weight(m, k + 3u)));
        }
    }
    float b[B_ROWS];
    uint k = k0 + firstRow;
    if (p.inC % TILE_K == 0u) { // the chunk's rows are consecutive channels at one kernel position
        uint position = k / p.inC, c = k % p.inC;
        [[unroll]] for (uint j = 0u; j < B_ROWS; j++) b[j] = im2col(c + j, position / p.kernelW, position % p.kernelW);
    } else {
        [[unroll]] for (uint j = 0u; j < B_ROWS; j++) {
            uint position = (k + j) / p.inC;
            b[j] = im2col((k + j) % p.inC, position / p.kernelW, position % p.kernelW);
        }
    }
    [[unroll]] for (uint q = 0u; q < B_ROWS / 4u; q++) loadedB[q] = halves(vec4(b[4u * q], b[4u * q + 1u], b[4u * q + 2u], b[4u * q + 3u]));
}

void stageLoaded() {
    [[unroll]] for (uint i = 0u; i < A_VECTORS; i++) {
        uint e = t + 256u * i;
        stagedA[(e / (TILE_K / 4u)) * STRIDE + e % (TILE_K / 4u)] = loadedA[i];
    }
    [[unroll]] for (uint q = 0u; q < B_ROWS / 4u; q++) stagedB[(t % BLOCK_N) * STRIDE + firstRow / 4u + q] = loadedB[q];
}

void main() {
    t = gl_LocalInvocationIndex;
    startBlockRow(BLOCK_M);
    firstRow = (t / BLOCK_N) * B_ROWS;
    uint subgroup = gl_SubgroupID, lane = gl_SubgroupInvocationID;
    uint partM = (subgroup / SUBGROUPS_N) * PART_M, partN = (subgroup % SUBGROUPS_N) * PART_N;
    for (uint n0 = gl_WorkGroupID.x * BLOCK_N; n0 < pixelCount(); n0 += gl_NumWorkGroups.x * BLOCK_N) {
        startColumn(n0 + t % BLOCK_N);
        coopmat<float, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseAccumulator> acc[MATRICES_M][MATRICES_N];
        [[unroll]] for (uint i = 0u; i < MATRICES_M; i++) {
            [[unroll]] for (uint j = 0u; j < MATRICES_N; j++) acc[i][j] = coopmat<float, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseAccumulator>(0.0);
        }
        loadChunk(kBegin);
        for (uint k0 = kBegin; k0 < kEnd; k0 += TILE_K) {
            stageLoaded();
            barrier();
            if (k0 + TILE_K < kEnd) loadChunk(k0 + TILE_K);
            [[unroll]] for (uint kk = 0u; kk < TILE_K; kk += 16u) {
                coopmat<float16_t, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseA> a[MATRICES_M];
                coopmat<float16_t, gl_ScopeSubgroup, 16u, 16u, gl_MatrixUseB> b[MATRICES_N];
                [[unroll]] for (uint i = 0u; i < MATRICES_M; i++) {
                    coopMatLoad(a[i], stagedA, (partM + 16u * i) * STRIDE + kk / 4u, STRIDE, gl_CooperativeMatrixLayoutRowMajor);
                }
                [[unroll]] for (uint j = 0u; j < MATRICES_N; j++) {
                    coopMatLoad(b[j], stagedB, (partN + 16u * j) * STRIDE + kk / 4u, STRIDE, gl_CooperativeMatrixLayoutColumnMajor);
                }
                [[unroll]] for (uint i = 0u; i < MATRICES_M; i++) {
                    [[unroll]] for (uint j = 0u; j < MATRICES_N; j++) acc[i][j] = coopMatMulAdd(a[i], b[j], acc[i][j]);
                }
            }
            barrier();
        }
        [[unroll]] for (uint i = 0u; i < MATRICES_M; i++) {
            [[unroll]] for (uint j = 0u; j < MATRICES_N; j++) {
                coopMatStore(acc[i][j], sums, subgroup * 256u, 16u, gl_CooperativeMatrixLayoutRowMajor);
                subgroupMemoryBarrierShared();
                subgroupBarrier();
                [[unroll]] for (uint e = lane; e < 256u; e += 32u) {
                    storeOutput(m0 + partM + 16u * i + e / 16u, n0 + partN + 16u * j + e % 16u, sums[subgroup * 256u + e]);
                }
                subgroupBarrier();
            }
        }
    }
}
