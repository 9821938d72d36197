// The convolution of conv2d.comp and conv2d_coop.comp as a matrix product, y = act(W * im2col(x) +
// bias): rows are output channels, columns output pixels of all images, K runs over kernel
// positions, then input channels, matching the weights' upload layout [outC][kernelH][kernelW][inC]
// (W[m, k] at m wRow + k wColumn: a conv's weights have wRow = K, wColumn = 1; attention passes
// other matrices, transposed ones too).
// Images are full maps (imageStride C*H*W, channelStride H*W, any zero padding) or tile batches
// ([C, tiles, th, tw]: imageStride th*tw, channelStride tiles*th*tw, no padding).
//
// Products whose blocks alone would leave the GPU idle (small maps, many channels) split K into
// `slices` of sliceK (a multiple of every kernel's TILE_K): workgroup row gl_WorkGroupID.y is then
// block row y % rowBlocks of slice y / rowBlocks, which writes its float32 sums to the partial
// buffer [slices][outC][pixels]; sum_slices.comp adds them up and finishes the output.
layout(binding = 0) readonly buffer X { T x[]; };
layout(binding = 1) readonly buffer W { T w[]; };
layout(binding = 2) readonly buffer Bias { float bias[]; };
layout(binding = 3) writeonly buffer Y { T y[]; };
layout(binding = 4) buffer Partial { float partial[]; };
layout(push_constant) uniform Params {
    uint at[5];
    uint inC, inH, inW, inImageStride, inChannelStride;
    uint outC, outH, outW, outImageStride, outChannelStride;
    uint images, kernelH, kernelW, stride;
    int padTop, padLeft;
    uint act;
    float slope;
    uint slices, sliceK;
    uint wRow, wColumn;
} p;

uint kernelSize() { return p.kernelH * p.kernelW * p.inC; }
uint pixelCount() { return p.images * p.outH * p.outW; }

// This workgroup's slice, first output row, and range of K.
uint slice, m0, kBegin, kEnd;

void startBlockRow(uint blockM) {
    uint rowBlocks = (p.outC + blockM - 1u) / blockM;
    slice = gl_WorkGroupID.y / rowBlocks;
    m0 = (gl_WorkGroupID.y % rowBlocks) * blockM;
    kBegin = slice * p.sliceK;
    kEnd = min(kernelSize(), kBegin + p.sliceK);
}

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
    return m < p.outC && k < kernelSize() ? float(w[FIRST_T(1) + m * p.wRow + k * p.wColumn]) : 0.0;
}

// y[m, n] = act(sum + bias[m]); nothing outside the output.
void storeResult(uint m, uint n, float sum) {
    if (m >= p.outC || n >= pixelCount()) return;
    float b = p.at[2] != ABSENT ? bias[FIRST_32(2) + m] : 0.0;
    uint plane = p.outH * p.outW;
    y[FIRST_T(3) + (n / plane) * p.outImageStride + m * p.outChannelStride + n % plane] = T(activate(sum + b, p.act, p.slope));
}

// This workgroup's sum for output (m, n): the result, or the slice's part of it.
void storeOutput(uint m, uint n, float sum) {
    if (p.slices == 1u) {
        storeResult(m, n, sum);
    } else if (m < p.outC && n < pixelCount()) {
        partial[FIRST_32(4) + (slice * p.outC + m) * pixelCount() + n] = sum;
    }
}
