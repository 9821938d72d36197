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

// This invocation loads weights of rows t / 16 + 16 i at chunk column t % 16, and im2col of
// block column t % BLOCK_N at chunk rows firstRow + ROW_STEP i.
const uint ROW_STEP = 256u / BLOCK_N;
uint t, firstRow, column;
uvec2 aElement(uint i) { return uvec2(t / TILE_K + (256u / TILE_K) * i, t % TILE_K); }
uvec2 bElement(uint i) { return uvec2(column, firstRow + ROW_STEP * i); }

// The block: first output channel, and the output pixel this invocation loads im2col for.
uint m0, kernelSize, xImage;
int iy0, ix0;
bool pixelInside;
// The input channel and kernel position of each row this invocation loads, advanced by TILE_K
// per chunk (divisions only when a block starts).
uint channel[B_LOADS], ky[B_LOADS], kx[B_LOADS];

void loadChunk(uint k0) {
    uint kA = k0 + t % TILE_K;
    [[unroll]] for (uint i = 0u; i < A_LOADS; i++) {
        uint m = m0 + aElement(i).x;
        loadedA[i] = m < p.outC && kA < kernelSize ? float(w[FIRST_T(1) + m * kernelSize + kA]) : 0.0;
    }
    [[unroll]] for (uint i = 0u; i < B_LOADS; i++) {
        int iy = iy0 + int(ky[i]), ix = ix0 + int(kx[i]);
        bool inside = pixelInside && ky[i] < p.kernelH && iy >= 0 && iy < int(p.inH) && ix >= 0 && ix < int(p.inW);
        loadedB[i] = inside ? float(x[xImage + channel[i] * p.inChannelStride + uint(iy) * p.inW + uint(ix)]) : 0.0;
        for (channel[i] += TILE_K; channel[i] >= p.inC; channel[i] -= p.inC) {
            if (++kx[i] == p.kernelW) {
                kx[i] = 0u;
                ky[i]++;
            }
        }
    }
}

void main() {
    uint y0 = FIRST_T(3);
    uint plane = p.outH * p.outW, pixels = p.images * plane;
    kernelSize = p.kernelH * p.kernelW * p.inC; // K
    t = gl_LocalInvocationIndex;
    firstRow = t / BLOCK_N;
    column = t % BLOCK_N;
    m0 = gl_WorkGroupID.y * BLOCK_M;
    for (uint n0 = gl_WorkGroupID.x * BLOCK_N; n0 < pixels; n0 += gl_NumWorkGroups.x * BLOCK_N) {
        uint n = n0 + column;
        uint image = n / plane, oy = (n % plane) / p.outW, ox = n % p.outW;
        iy0 = int(oy * p.stride) - p.padTop;
        ix0 = int(ox * p.stride) - p.padLeft;
        xImage = FIRST_T(0) + image * p.inImageStride;
        pixelInside = n < pixels;
        [[unroll]] for (uint i = 0u; i < B_LOADS; i++) {
            uint k = bElement(i).y, position = k / p.inC;
            channel[i] = k % p.inC;
            ky[i] = position / p.kernelW;
            kx[i] = position % p.kernelW;
        }
        multiply(kernelSize);
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
