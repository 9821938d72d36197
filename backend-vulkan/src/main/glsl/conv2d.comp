#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Convolution as an implicit GEMM (conv.glsl) on the shader cores, float32 arithmetic: the tiled
// product of gemm.glsl.
layout(local_size_x = 256, local_size_x_id = 3) in;
#include "gemm.glsl"
const uint ROW_STEP = THREADS / BLOCK_N;
#include "conv.glsl"

// This invocation loads weights of rows t / 16 + (THREADS / 16) i at chunk column t % 16, and im2col of
// block column t % BLOCK_N at chunk rows firstRow + ROW_STEP i: the input channel and kernel
// position of each such row, advanced by TILE_K per chunk (divisions only when a column starts).
uint t, firstRow;
uint channel[B_LOADS], ky[B_LOADS], kx[B_LOADS];
uvec2 aElement(uint i) { return uvec2(t / TILE_K + (THREADS / TILE_K) * i, t % TILE_K); }
uvec2 bElement(uint i) { return uvec2(t % BLOCK_N, firstRow + ROW_STEP * i); }

void startRows() {
    [[unroll]] for (uint i = 0u; i < B_LOADS; i++) {
        uint k = kBegin + firstRow + ROW_STEP * i, position = k / p.inC;
        channel[i] = k % p.inC;
        ky[i] = position / p.kernelW;
        kx[i] = position % p.kernelW;
    }
}

void loadChunk(uint k0) {
    [[unroll]] for (uint i = 0u; i < A_LOADS; i++) loadedA[i] = weight(m0 + aElement(i).x, kBegin + k0 + aElement(i).y);
    if (p.inC % TILE_K == 0u) { // the chunk's rows are consecutive channels at one kernel position
        uint k = kBegin + k0 + firstRow, position = k / p.inC, c = k % p.inC;
        [[unroll]] for (uint i = 0u; i < B_LOADS; i++) loadedB[i] = im2col(c + ROW_STEP * i, position / p.kernelW, position % p.kernelW);
        return;
    }
    [[unroll]] for (uint i = 0u; i < B_LOADS; i++) {
        loadedB[i] = im2col(channel[i], ky[i], kx[i]);
        for (channel[i] += TILE_K; channel[i] >= p.inC; channel[i] -= p.inC) {
            if (++kx[i] == p.kernelW) {
                kx[i] = 0u;
                ky[i]++;
            }
        }
    }
}

void main() {
    t = gl_LocalInvocationIndex;
    firstRow = t / BLOCK_N;
    startBlockRow(BLOCK_M);
    for (uint n0 = gl_WorkGroupID.x * BLOCK_N; n0 < pixelCount(); n0 += gl_NumWorkGroups.x * BLOCK_N) {
        startColumn(n0 + t % BLOCK_N);
        startRows();
        multiply(kEnd - kBegin);
        [[unroll]] for (uint i = 0u; i < ROWS; i++) {
            [[unroll]] for (uint c = 0u; c < COLS / 4u; c++) {
                [[unroll]] for (uint j = 0u; j < 4u; j++) storeOutput(m0 + accRow(i), n0 + accColumn(c) + j, acc[i][c][j]);
            }
        }
    }
}
