// Winograd F(M x M, 3x3), inverse transform (winograd.glsl): for output channel c and window n, the
// M x M output block Y = A^T M A of the products m[f][c][n] (f = A i + j; float32, or stored as T
// where gemm_tensor made them), plus bias, through the activation, stored at the window's place in
// y (images as in conv.glsl: full maps or tiles).
#include "winograd.glsl"
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer Sums { float m[]; };
layout(binding = 0) readonly buffer StoredSums { T mStored[]; };  // the same buffer, when p.storedSums is 1
layout(binding = 1) readonly buffer Bias { float bias[]; };
layout(binding = 2) writeonly buffer Y { T y[]; };
layout(push_constant) uniform Params {
    uint at[3];
    uint channels, h, w, imageStride, channelStride;
    uint blocksH, blocksW;
    uint act;
    float slope;
    uint total;  // channels x windows
    uint storedSums;  // 1: m holds T, not float32
} p;

void main() {
    uint m0 = p.storedSums == 1u ? FIRST_T(0) : FIRST_32(0), y0 = FIRST_T(2);
    uint perImage = p.blocksH * p.blocksW, windows = p.total / p.channels;
    GRID_STRIDE(i, p.total) {
        uint c = i / windows, n = i % windows, image = n / perImage;
        uint top = uint(M) * ((n % perImage) / p.blocksW), left = uint(M) * (n % p.blocksW);
        uint stride = p.channels * windows, at = m0 + c * windows + n;
        float f[A][A];
        [[unroll]] for (int k = 0; k < A * A; k++) {
            uint e = at + uint(k) * stride;
            f[k / A][k % A] = p.storedSums == 1u ? float(mStored[e]) : m[e];
        }
        float u[M][A];  // A^T M, then (A^T M) A
        [[unroll]] for (int r = 0; r < M; r++) {
            [[unroll]] for (int s = 0; s < A; s++) {
                float sum = 0.0;
                [[unroll]] for (int k = 0; k < A; k++) sum += AT[r][k] * f[k][s];
                u[r][s] = sum;
            }
        }
        float b = p.at[1] != ABSENT ? bias[FIRST_32(1) + c] : 0.0;
        uint base = y0 + image * p.imageStride + c * p.channelStride + top * p.w + left;
        [[unroll]] for (int r = 0; r < M; r++) {
            [[unroll]] for (int s = 0; s < M; s++) {
                float sum = 0.0;
                [[unroll]] for (int k = 0; k < A; k++) sum += u[r][k] * AT[s][k];
                y[base + uint(r) * p.w + uint(s)] = T(activate(sum + b, p.act, p.slope));
            }
        }
    }
}
