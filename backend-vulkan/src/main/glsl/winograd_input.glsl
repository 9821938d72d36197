// Winograd F(M x M, 3x3), input transform (winograd.glsl): for input channel c and window n (an M x M
// block of an image's or tile's output), the A x A input patch d at (M by - padTop, M bx - padLeft),
// zero outside the image, as V = B^T d B, stored as the maps are (T) as v[f][c][n], f = A i + j:
// frequency f's rows of K in the product of VulkanExecutor.winogradConv. Images as in conv.glsl
// (full maps or tiles).
#include "winograd.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) writeonly buffer V { T v[]; };
layout(push_constant) uniform Params {
    uint at[2];
    uint channels, h, w, imageStride, channelStride;
    uint blocksH, blocksW;  // M x M windows of an image, down and across
    int padTop, padLeft;
    uint total;             // channels x windows
} p;

void main() {
    uint x0 = FIRST_T(0), v0 = FIRST_T(1);
    uint perImage = p.blocksH * p.blocksW, windows = p.total / p.channels;
    GRID_STRIDE(i, p.total) {
        uint c = i / windows, n = i % windows, image = n / perImage;
        int top = M * int((n % perImage) / p.blocksW) - p.padTop, left = M * int(n % p.blocksW) - p.padLeft;
        uint base = x0 + image * p.imageStride + c * p.channelStride;
        float d[A][A];
        [[unroll]] for (int r = 0; r < A; r++) {
            [[unroll]] for (int s = 0; s < A; s++) {
                int y = top + r, x_ = left + s;
                bool inside = y >= 0 && y < int(p.h) && x_ >= 0 && x_ < int(p.w);
                d[r][s] = inside ? float(x[base + uint(y) * p.w + uint(x_)]) : 0.0;
            }
        }
        float t[A][A];  // B^T d, then (B^T d) B
        [[unroll]] for (int r = 0; r < A; r++) {
            [[unroll]] for (int s = 0; s < A; s++) {
                float sum = 0.0;
                [[unroll]] for (int k = 0; k < A; k++) sum += BT[r][k] * d[k][s];
                t[r][s] = sum;
            }
        }
        uint stride = p.channels * windows, at = v0 + c * windows + n;
        [[unroll]] for (int r = 0; r < A; r++) {
            [[unroll]] for (int s = 0; s < A; s++) {
                float sum = 0.0;
                [[unroll]] for (int k = 0; k < A; k++) sum += t[r][k] * BT[s][k];
                v[at + uint(A * r + s) * stride] = T(sum);
            }
        }
    }
}
