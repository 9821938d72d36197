#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Winograd F(2x2, 3x3), input transform: for input channel c and window n (a 2x2 block of an image's
// or tile's output), the 4x4 input patch d at (2 by - padTop, 2 bx - padLeft), zero outside the
// image, as V = B^T d B, stored as the maps are (T) as v[f][c][n], f = 4 i + j: frequency f's rows of K in
// the product of VulkanExecutor.winogradConv. Images as in conv.glsl (full maps or tiles).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) writeonly buffer V { T v[]; };
layout(push_constant) uniform Params {
    uint at[2];
    uint channels, h, w, imageStride, channelStride;
    uint blocksH, blocksW;  // 2x2 windows of an image, down and across
    int padTop, padLeft;
    uint total;             // channels x windows
} p;

void main() {
    uint x0 = FIRST_T(0), v0 = FIRST_T(1);
    uint perImage = p.blocksH * p.blocksW, windows = p.total / p.channels;
    GRID_STRIDE(i, p.total) {
        uint c = i / windows, n = i % windows, image = n / perImage;
        int top = int(2u * ((n % perImage) / p.blocksW)) - p.padTop, left = int(2u * (n % p.blocksW)) - p.padLeft;
        uint base = x0 + image * p.imageStride + c * p.channelStride;
        float d[4][4];
        [[unroll]] for (int r = 0; r < 4; r++) {
            [[unroll]] for (int s = 0; s < 4; s++) {
                int y = top + r, x_ = left + s;
                bool inside = y >= 0 && y < int(p.h) && x_ >= 0 && x_ < int(p.w);
                d[r][s] = inside ? float(x[base + uint(y) * p.w + uint(x_)]) : 0.0;
            }
        }
        // B^T rows: (1, 0, -1, 0), (0, 1, 1, 0), (0, -1, 1, 0), (0, 1, 0, -1); first down the columns, then across.
        float t[4][4];
        [[unroll]] for (int s = 0; s < 4; s++) {
            t[0][s] = d[0][s] - d[2][s];
            t[1][s] = d[1][s] + d[2][s];
            t[2][s] = d[2][s] - d[1][s];
            t[3][s] = d[1][s] - d[3][s];
        }
        uint stride = p.channels * windows, at = v0 + c * windows + n;
        [[unroll]] for (int r = 0; r < 4; r++) {
            v[at + uint(4 * r) * stride] = T(t[r][0] - t[r][2]);
            v[at + uint(4 * r + 1) * stride] = T(t[r][1] + t[r][2]);
            v[at + uint(4 * r + 2) * stride] = T(t[r][2] - t[r][1]);
            v[at + uint(4 * r + 3) * stride] = T(t[r][1] - t[r][3]);
        }
    }
}
