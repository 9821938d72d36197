#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Convolution as an implicit GEMM, y = act(W * im2col(x) + bias): rows are output channels,
// columns output pixels of all images, K runs over kernel positions, then input channels, matching
// the weights' upload layout [outC][kernelH][kernelW][inC]; K chunks run across positions, so no
// channel count wastes work. Images are full maps (imageStride C*H*W, channelStride H*W, any zero
// padding) or tile batches ([C, tiles, th, tw]: imageStride th*tw, channelStride tiles*th*tw, no
// padding).
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

// Rows of a B chunk that one invocation stages: rows firstRow + ROW_STEP i of column t % BLOCK_N.
const uint ROW_STEP = 256u / BLOCK_N, STAGED_ROWS = TILE_K / ROW_STEP;

void main() {
    uint x0 = FIRST_T(0), w0 = FIRST_T(1), y0 = FIRST_T(3);
    uint plane = p.outH * p.outW, pixels = p.images * plane;
    uint kernelSize = p.kernelH * p.kernelW * p.inC; // K
    uint t = gl_LocalInvocationIndex, firstRow = t / BLOCK_N, column = t % BLOCK_N;
    uint m0 = gl_WorkGroupID.y * BLOCK_M;
    for (uint n0 = gl_WorkGroupID.x * BLOCK_N; n0 < pixels; n0 += gl_NumWorkGroups.x * BLOCK_N) {
        uint n = n0 + column;
        uint image = n / plane, oy = (n % plane) / p.outW, ox = n % p.outW;
        int iy0 = int(oy * p.stride) - p.padTop, ix0 = int(ox * p.stride) - p.padLeft;
        uint xImage = x0 + image * p.inImageStride;
        // The input channel and kernel position of each staged row, advanced by TILE_K per chunk
        // (divisions only here, once per block).
        uint channel[STAGED_ROWS], ky[STAGED_ROWS], kx[STAGED_ROWS];
        [[unroll]] for (uint i = 0u; i < STAGED_ROWS; i++) {
            uint k = firstRow + ROW_STEP * i, position = k / p.inC;
            channel[i] = k % p.inC;
            ky[i] = position / p.kernelW;
            kx[i] = position % p.kernelW;
        }
        clearAccumulators();
        for (uint k0 = 0u; k0 < kernelSize; k0 += TILE_K) {
            uint kA = k0 + t % TILE_K;
            for (uint row = t / TILE_K; row < BLOCK_M; row += 256u / TILE_K) {
                uint m = m0 + row;
                stageA(t % TILE_K, row, m < p.outC && kA < kernelSize ? float(w[w0 + m * kernelSize + kA]) : 0.0);
            }
            [[unroll]] for (uint i = 0u; i < STAGED_ROWS; i++) {
                int iy = iy0 + int(ky[i]), ix = ix0 + int(kx[i]);
                bool inside = n < pixels && ky[i] < p.kernelH && iy >= 0 && iy < int(p.inH) && ix >= 0 && ix < int(p.inW);
                uint at = xImage + channel[i] * p.inChannelStride + uint(iy) * p.inW + uint(ix);
                stageB(firstRow + ROW_STEP * i, column, inside ? float(x[at]) : 0.0);
                for (channel[i] += TILE_K; channel[i] >= p.inC; channel[i] -= p.inC) {
                    if (++kx[i] == p.kernelW) {
                        kx[i] = 0u;
                        ky[i]++;
                    }
                }
            }
            barrier();
            multiplyStaged();
            barrier();
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
