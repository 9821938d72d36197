#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Convolution as an implicit GEMM, y = act(W * im2col(x) + bias): rows are output channels,
// columns output pixels of all images, K runs over kernel positions then input channels, so a
// staged K chunk is 16 input channels at one kernel position and im2col costs one bounds check
// per pixel and position. Images are full maps (imageStride C*H*W, channelStride H*W, any zero
// padding) or tile batches ([C, tiles, th, tw]: imageStride th*tw, channelStride tiles*th*tw, no
// padding). Weights are uploaded as [outC][kernelH][kernelW][inC].
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) readonly buffer W { T w[]; };
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) writeonly buffer Y { T y[]; };
layout(push_constant) uniform Params {
    uint at[4];
    uint inC, inH, inW, inImageStride, inChannelStride;
    uint outC, outH, outW, outImageStride, outChannelStride;
    uint images, kernelH, kernelW, stride;
    int padTop, padLeft;
    uint act;
    float slope;
} p;
#include "gemm.glsl"

void main() {
    uint x0 = FIRST_T(0), w0 = FIRST_T(1), y0 = FIRST_T(3);
    uint plane = p.outH * p.outW, pixels = p.images * plane;
    uint t = gl_LocalInvocationIndex;
    uint m0 = gl_WorkGroupID.y * BLOCK_M;
    // Staging: this invocation loads weights at chunk column t % 16 for output channels
    // m0 + t / 16 + 16 i, and im2col of pixel column t % BLOCK_N at chunk rows t / BLOCK_N + (256 / BLOCK_N) i.
    uint kA = t % TILE_K, kB = t / BLOCK_N, column = t % BLOCK_N;
    for (uint n0 = gl_WorkGroupID.x * BLOCK_N; n0 < pixels; n0 += gl_NumWorkGroups.x * BLOCK_N) {
        uint n = n0 + column;
        uint image = n / plane, oy = (n % plane) / p.outW, ox = n % p.outW;
        int iy0 = int(oy * p.stride) - p.padTop, ix0 = int(ox * p.stride) - p.padLeft;
        clearAccumulators();
        for (uint ky = 0u; ky < p.kernelH; ky++) {
            for (uint kx = 0u; kx < p.kernelW; kx++) {
                int iy = iy0 + int(ky), ix = ix0 + int(kx);
                bool inside = n < pixels && iy >= 0 && iy < int(p.inH) && ix >= 0 && ix < int(p.inW);
                uint xAt = x0 + image * p.inImageStride + uint(iy) * p.inW + uint(ix);
                uint position = ky * p.kernelW + kx;
                for (uint c0 = 0u; c0 < p.inC; c0 += TILE_K) {
                    uint c = c0 + kA;
                    for (uint row = t / TILE_K; row < BLOCK_M; row += 256u / TILE_K) {
                        uint m = m0 + row;
                        stageA(kA, row, m < p.outC && c < p.inC ? float(w[w0 + (m * p.kernelH * p.kernelW + position) * p.inC + c]) : 0.0);
                    }
                    for (uint k = kB; k < TILE_K; k += 256u / BLOCK_N) {
                        stageB(k, column, inside && c0 + k < p.inC ? float(x[xAt + (c0 + k) * p.inChannelStride]) : 0.0);
                    }
                    barrier();
                    multiplyStaged();
                    barrier();
                }
            }
        }
        [[unroll]] for (uint i = 0u; i < ROWS; i++) {
            uint m = m0 + accRow(i);
            if (m >= p.outC) continue;
            float b = p.at[2] != ABSENT ? bias[FIRST_32(2) + m] : 0.0;
            [[unroll]] for (uint cg = 0u; cg < COLS / 4u; cg++) {
                [[unroll]] for (uint j = 0u; j < 4u; j++) {
                    uint col = n0 + accColumn(cg) + j;
                    if (col >= pixels) continue;
                    uint img = col / plane, pixel = col % plane;
                    y[y0 + img * p.outImageStride + m * p.outChannelStride + pixel] = T(activate(acc[i][cg][j] + b, p.act, p.slope));
                }
            }
        }
    }
}
