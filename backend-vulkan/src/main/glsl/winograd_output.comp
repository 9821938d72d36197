#version 450
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_control_flow_attributes : require
#include "common.glsl"
// Winograd F(2x2, 3x3), inverse transform: for output channel c and window n, the 2x2 output block
// Y = A^T M A of the products m[f][c][n] (f = 4 i + j; float32, or stored as T where gemm_tensor
// made them), plus bias, through the activation, stored at the window's place in y (images as in
// conv.glsl: full maps or tiles).
layout(local_size_x = 256) in;
layout(binding = 0) readonly buffer M { float m[]; };
layout(binding = 0) readonly buffer MStored { T mStored[]; };  // the same buffer, when p.storedSums is 1
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
        uint top = 2u * ((n % perImage) / p.blocksW), left = 2u * (n % p.blocksW);
        uint stride = p.channels * windows, at = m0 + c * windows + n;
        float f[4][4];
        [[unroll]] for (uint k = 0u; k < 16u; k++) {
            f[k / 4u][k % 4u] = p.storedSums == 1u ? float(mStored[at + k * stride]) : m[at + k * stride];
        }
        // A^T rows: (1, 1, 1, 0), (0, 1, -1, -1); first down the columns, then across.
        float u[2][4];
        [[unroll]] for (int s = 0; s < 4; s++) {
            u[0][s] = f[0][s] + f[1][s] + f[2][s];
            u[1][s] = f[1][s] - f[2][s] - f[3][s];
        }
        float b = p.at[1] != ABSENT ? bias[FIRST_32(1) + c] : 0.0;
        uint base = y0 + image * p.imageStride + c * p.channelStride + top * p.w + left;
        [[unroll]] for (uint r = 0u; r < 2u; r++) {
            y[base + r * p.w] = T(activate(u[r][0] + u[r][1] + u[r][2] + b, p.act, p.slope));
            y[base + r * p.w + 1u] = T(activate(u[r][1] - u[r][2] - u[r][3] + b, p.act, p.slope));
        }
    }
}
