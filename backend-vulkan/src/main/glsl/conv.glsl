// The convolution of conv2d.comp and conv2d_coop.comp as a matrix product, y = act(W * im2col(x) +
// bias): rows are output channels, columns output pixels of all images, K runs over kernel
// positions, then input channels, matching the weights' upload layout [outC][kernelH][kernelW][inC].
// Images are full maps (imageStride C*H*W, channelStride H*W, any zero padding) or tile batches
// ([C, tiles, th, tw]: imageStride th*tw, channelStride tiles*th*tw, no padding).
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

uint kernelSize() { return p.kernelH * p.kernelW * p.inC; }
uint pixelCount() { return p.images * p.outH * p.outW; }

// The column this invocation loads im2col for: where its image starts and its input window's corner.
uint xImage;
int iy0, ix0;
bool pixelInside;

void startColumn(uint n) {
    uint plane = p.outH * p.outW;
    uint image = n / plane, oy = (n % plane) / p.outW, ox = n % p.outW;
    iy0 = int(oy * p.stride) - p.padTop;
    ix0 = int(ox * p.stride) - p.padLeft;
    xImage = FIRST_T(0) + image * p.inImageStride;
    pixelInside = n < pixelCount();
}

// The column's im2col at input channel c and kernel position (ky, kx): 0 in the padding, past K
// (ky = kernelH) and past the last column.
float im2col(uint c, uint ky, uint kx) {
    int iy = iy0 + int(ky), ix = ix0 + int(kx);
    bool inside = pixelInside && ky < p.kernelH && iy >= 0 && iy < int(p.inH) && ix >= 0 && ix < int(p.inW);
    return inside ? float(x[xImage + c * p.inChannelStride + uint(iy) * p.inW + uint(ix)]) : 0.0;
}

// W[m, k], 0 outside the matrix.
float weight(uint m, uint k) {
    return m < p.outC && k < kernelSize() ? float(w[FIRST_T(1) + m * kernelSize() + k]) : 0.0;
}

// y[m, n] = act(sum + bias[m]); nothing outside the output.
void storeOutput(uint m, uint n, float sum) {
    if (m >= p.outC || n >= pixelCount()) return;
    float b = p.at[2] != ABSENT ? bias[FIRST_32(2) + m] : 0.0;
    uint plane = p.outH * p.outW;
    y[FIRST_T(3) + (n / plane) * p.outImageStride + m * p.outChannelStride + n % plane] = T(activate(sum + b, p.act, p.slope));
}
