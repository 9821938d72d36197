// Tessera's CUDA kernels: everything the dense and sparse passes need besides convolutions (cuDNN)
// and matrix products (cuBLAS). Each kernel exists for float32 (suffix _f32) and float16 storage
// (_f16); arithmetic is float32 in both. Layouts: full maps are NCHW; tiles are channel-major
// [C, tiles, th, tw] (TileGeometry), so per-channel kernels treat both as [C, plane] planes.
// Built by build-kernels.sh into tessera_kernels.fatbin (sm_80/86/89/90 + PTX); see README.
#include <cuda_fp16.h>

// 64-bit on every host ABI (a C i64 is 32-bit on Windows); the Java side passes 8 bytes.
typedef long long i64;

enum Act { ACT_NONE = 0, ACT_RELU = 1, ACT_LEAKY_RELU = 2, ACT_SILU = 3, ACT_TANH = 4 };

__device__ __forceinline__ float load(const float* p, i64 i) { return p[i]; }
__device__ __forceinline__ float load(const __half* p, i64 i) { return __half2float(p[i]); }
__device__ __forceinline__ void store(float* p, i64 i, float v) { p[i] = v; }
__device__ __forceinline__ void store(__half* p, i64 i, float v) { p[i] = __float2half(v); }

__device__ __forceinline__ float activate(float v, int act, float slope) {
    switch (act) {
        case ACT_RELU: return v > 0.f ? v : 0.f;
        case ACT_LEAKY_RELU: return v > 0.f ? v : v * slope;
        case ACT_SILU: return v / (1.f + expf(-v));
        case ACT_TANH: return tanhf(v);
        default: return v;
    }
}

#define GRID_STRIDE(i, total) for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < (total); i += (i64) gridDim.x * blockDim.x)

// y = act(x * scale[k] + shift[k]) with k = (i / plane) % channels; null scale = 1, null shift = 0.
// Serves bias, batch norm, cached group norm affines, and plain activations. x may equal y.
template <typename T>
__device__ void channel_affine(const T* x, T* y, const float* scale, const float* shift, int channels, i64 plane,
                               i64 total, int act, float slope) {
    GRID_STRIDE(i, total) {
        int k = (int) ((i / plane) % channels);
        float v = load(x, i);
        if (scale) v *= scale[k];
        if (shift) v += shift[k];
        store(y, i, activate(v, act, slope));
    }
}

// SPADE: y = act((x * scale[c] + shift[c]) * (1 + gamma) + beta), gammaBeta [N, 2C, plane] (gamma first).
template <typename T>
__device__ void spade(const T* x, const T* gb, T* y, const float* scale, const float* shift, int channels, i64 plane,
                      i64 total, int act, float slope) {
    GRID_STRIDE(i, total) {
        i64 p = i % plane;
        i64 nc = i / plane;
        int c = (int) (nc % channels);
        i64 n = nc / channels;
        i64 g = (n * 2 * channels + c) * plane + p;
        float v = (load(x, i) * scale[c] + shift[c]) * (1.f + load(gb, g)) + load(gb, g + channels * plane);
        store(y, i, activate(v, act, slope));
    }
}

// y = act(a + b); b is the same shape, or per (n, c) when perChannel (b[i / plane]).
template <typename T>
__device__ void add(const T* a, const T* b, T* y, i64 plane, int perChannel, i64 total, int act, float slope) {
    GRID_STRIDE(i, total) {
        float v = load(a, i) + load(b, perChannel ? i / plane : i);
        store(y, i, activate(v, act, slope));
    }
}

// Per (n, group) statistics folded with the affine: scale[n*C+c], shift[n*C+c]. One block per (n, group).
template <typename T>
__device__ void group_norm_stats(const T* x, const float* weight, const float* bias, float* scale, float* shift,
                                 int channels, int groups, i64 plane, float eps) {
    int ng = blockIdx.x;
    int n = ng / groups, g = ng % groups;
    int gc = channels / groups;
    i64 count = gc * plane;
    const i64 base = ((i64) n * channels + (i64) g * gc) * plane;
    double s = 0, q = 0;
    for (i64 i = threadIdx.x; i < count; i += blockDim.x) {
        double v = load(x, base + i);
        s += v;
        q += v * v;
    }
    __shared__ double ss[32], qs[32];
    for (int o = 16; o > 0; o >>= 1) {
        s += __shfl_down_sync(0xffffffff, s, o);
        q += __shfl_down_sync(0xffffffff, q, o);
    }
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) { ss[warp] = s; qs[warp] = q; }
    __syncthreads();
    if (threadIdx.x == 0) {
        double st = 0, qt = 0;
        for (int w = 0; w < (blockDim.x + 31) / 32; w++) { st += ss[w]; qt += qs[w]; }
        double mean = st / count;
        double var = qt / count - mean * mean;
        double inv = 1.0 / sqrt((var > 0 ? var : 0) + eps);
        for (int c = g * gc; c < (g + 1) * gc; c++) {
            scale[n * channels + c] = (float) (weight[c] * inv);
            shift[n * channels + c] = (float) (bias[c] - mean * weight[c] * inv);
        }
    }
}

// Nearest resize through precomputed source indices; total = N*C*outH*outW.
template <typename T>
__device__ void resize_nearest(const T* x, T* y, const int* rows, const int* cols, int inH, int inW, int outH, int outW,
                               i64 total) {
    GRID_STRIDE(i, total) {
        int ox = (int) (i % outW);
        int oy = (int) ((i / outW) % outH);
        i64 nc = i / ((i64) outW * outH);
        store(y, i, load(x, (nc * inH + rows[oy]) * inW + cols[ox]));
    }
}

// dst[n, dstStart + c, p] = src[n, srcStart + c, p] for c < count (concat, slice); total = N*count*plane.
template <typename T>
__device__ void copy_channels(const T* src, T* dst, int srcC, int srcStart, int dstC, int dstStart, int count,
                              i64 plane, i64 total) {
    GRID_STRIDE(i, total) {
        i64 p = i % plane;
        i64 nc = i / plane;
        int c = (int) (nc % count);
        i64 n = nc / count;
        store(dst, (n * dstC + dstStart + c) * plane + p, load(src, (n * srcC + srcStart + c) * plane + p));
    }
}

// Zero-padded copy of x [N*C, H, W] into y [N*C, outH, outW] at (top, left): asymmetric conv padding.
template <typename T>
__device__ void pad(const T* x, T* y, int h, int w, int top, int left, int outH, int outW, i64 total) {
    GRID_STRIDE(i, total) {
        int ox = (int) (i % outW);
        int oy = (int) ((i / outW) % outH);
        i64 nc = i / ((i64) outW * outH);
        int iy = oy - top, ix = ox - left;
        store(y, i, iy >= 0 && iy < h && ix >= 0 && ix < w ? load(x, (nc * h + iy) * w + ix) : 0.f);
    }
}

// Row-wise softmax in place, one block per row.
template <typename T>
__device__ void softmax_rows(T* a, int cols) {
    T* row = a + (i64) blockIdx.x * cols;
    __shared__ float red[32];
    float m = -INFINITY;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) m = fmaxf(m, load(row, j));
    for (int o = 16; o > 0; o >>= 1) m = fmaxf(m, __shfl_down_sync(0xffffffff, m, o));
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = (blockDim.x + 31) / 32;
    if (lane == 0) red[warp] = m;
    __syncthreads();
    if (threadIdx.x == 0) { for (int w = 1; w < warps; w++) red[0] = fmaxf(red[0], red[w]); }
    __syncthreads();
    m = red[0];
    __syncthreads();
    float s = 0.f;
    for (int j = threadIdx.x; j < cols; j += blockDim.x) s += expf(load(row, j) - m);
    for (int o = 16; o > 0; o >>= 1) s += __shfl_down_sync(0xffffffff, s, o);
    if (lane == 0) red[warp] = s;
    __syncthreads();
    if (threadIdx.x == 0) { for (int w = 1; w < warps; w++) red[0] += red[w]; }
    __syncthreads();
    float inv = 1.f / red[0];
    for (int j = threadIdx.x; j < cols; j += blockDim.x) store(row, j, expf(load(row, j) - m) * inv);
}

// DDPM's sinusoidal embedding of timesteps t [N] into out [N, dim] (sin half, then cos half).
template <typename T>
__device__ void timestep_embedding(const T* t, T* out, int n, int dim) {
    int half = dim / 2;
    float step = logf(10000.f) / (half - 1);
    GRID_STRIDE(i, (i64) n * dim) {
        int row = (int) (i / dim), k = (int) (i % dim);
        float v = 0.f;
        if (k < 2 * half) {
            float arg = load(t, row) * expf((k % half) * -step);
            v = k < half ? sinf(arg) : cosf(arg);
        }
        store(out, i, v);
    }
}

// Tiles [C, count, th, tw] of a full map src [C, srcH, srcW]; pixel (r, c) of the target map (h x w)
// reads src[rows[r], cols[c]] when index maps are given (a nearest resize read in place); pixels
// outside the target map are zero.
template <typename T>
__device__ void gather(const T* src, T* tiles, const int* origins, int count, int h, int w, int th, int tw,
                       const int* rows, const int* cols, int srcH, int srcW, i64 total) {
    GRID_STRIDE(i, total) {
        int x = (int) (i % tw);
        int y = (int) ((i / tw) % th);
        i64 ct = i / ((i64) tw * th);
        int t = (int) (ct % count);
        i64 c = ct / count;
        int r = origins[2 * t] + y, q = origins[2 * t + 1] + x;
        float v = 0.f;
        if (r >= 0 && r < h && q >= 0 && q < w) {
            v = load(src, (c * srcH + (rows ? rows[r] : r)) * srcW + (cols ? cols[q] : q));
        }
        store(tiles, i, v);
    }
}

// Writes the in-map pixels of tiles [C, count, th, tw] into the full map dst [C, h, w].
template <typename T>
__device__ void scatter(const T* tiles, T* dst, const int* origins, int count, int h, int w, int th, int tw, i64 total) {
    GRID_STRIDE(i, total) {
        int x = (int) (i % tw);
        int y = (int) ((i / tw) % th);
        i64 ct = i / ((i64) tw * th);
        int t = (int) (ct % count);
        i64 c = ct / count;
        int r = origins[2 * t] + y, q = origins[2 * t + 1] + x;
        if (r >= 0 && r < h && q >= 0 && q < w) dst[(c * h + r) * w + q] = tiles[i];
    }
}

// Copies the pixels under the tiles from the full map src into the full map dst (both [C, h, w]).
template <typename T>
__device__ void restore(const T* src, T* dst, const int* origins, int count, int h, int w, int th, int tw, i64 total) {
    GRID_STRIDE(i, total) {
        int x = (int) (i % tw);
        int y = (int) ((i / tw) % th);
        i64 ct = i / ((i64) tw * th);
        int t = (int) (ct % count);
        i64 c = ct / count;
        int r = origins[2 * t] + y, q = origins[2 * t + 1] + x;
        if (r >= 0 && r < h && q >= 0 && q < w) dst[(c * h + r) * w + q] = src[(c * h + r) * w + q];
    }
}

// Zeroes the pixels of tiles that lie outside the map (after ops that do not keep 0 at 0).
template <typename T>
__device__ void zero_padding(T* tiles, const int* origins, int count, int h, int w, int th, int tw, i64 total) {
    GRID_STRIDE(i, total) {
        int x = (int) (i % tw);
        int y = (int) ((i / tw) % th);
        int t = (int) ((i / ((i64) tw * th)) % count);
        int r = origins[2 * t] + y, q = origins[2 * t + 1] + x;
        if (r < 0 || r >= h || q < 0 || q >= w) store(tiles, i, 0.f);
    }
}

// float32 <-> storage type, for uploads and downloads in float16 mode.
extern "C" __global__ void to_half(const float* x, __half* y, i64 total) { GRID_STRIDE(i, total) y[i] = __float2half(x[i]); }
extern "C" __global__ void to_float(const __half* x, float* y, i64 total) { GRID_STRIDE(i, total) y[i] = __half2float(x[i]); }


#define INSTANTIATE(T, S)                                                                                            \
    extern "C" __global__ void channel_affine_##S(const T* x, T* y, const float* scale, const float* shift,           \
        int channels, i64 plane, i64 total, int act, float slope) {                                                \
        channel_affine<T>(x, y, scale, shift, channels, plane, total, act, slope); }                                \
    extern "C" __global__ void spade_##S(const T* x, const T* gb, T* y, const float* scale, const float* shift,      \
        int channels, i64 plane, i64 total, int act, float slope) {                                                \
        spade<T>(x, gb, y, scale, shift, channels, plane, total, act, slope); }                                      \
    extern "C" __global__ void add_##S(const T* a, const T* b, T* y, i64 plane, int perChannel, i64 total,          \
        int act, float slope) { add<T>(a, b, y, plane, perChannel, total, act, slope); }                             \
    extern "C" __global__ void group_norm_stats_##S(const T* x, const float* weight, const float* bias,              \
        float* scale, float* shift, int channels, int groups, i64 plane, float eps) {                               \
        group_norm_stats<T>(x, weight, bias, scale, shift, channels, groups, plane, eps); }                          \
    extern "C" __global__ void resize_nearest_##S(const T* x, T* y, const int* rows, const int* cols, int inH,       \
        int inW, int outH, int outW, i64 total) { resize_nearest<T>(x, y, rows, cols, inH, inW, outH, outW, total); } \
    extern "C" __global__ void copy_channels_##S(const T* src, T* dst, int srcC, int srcStart, int dstC,             \
        int dstStart, int count, i64 plane, i64 total) {                                                           \
        copy_channels<T>(src, dst, srcC, srcStart, dstC, dstStart, count, plane, total); }                           \
    extern "C" __global__ void pad_##S(const T* x, T* y, int h, int w, int top, int left, int outH, int outW,        \
        i64 total) { pad<T>(x, y, h, w, top, left, outH, outW, total); }                                            \
    extern "C" __global__ void softmax_rows_##S(T* a, int cols) { softmax_rows<T>(a, cols); }                       \
    extern "C" __global__ void timestep_embedding_##S(const T* t, T* out, int n, int dim) {                         \
        timestep_embedding<T>(t, out, n, dim); }                                                                     \
    extern "C" __global__ void gather_##S(const T* src, T* tiles, const int* origins, int count, int h, int w,       \
        int th, int tw, const int* rows, const int* cols, int srcH, int srcW, i64 total) {                          \
        gather<T>(src, tiles, origins, count, h, w, th, tw, rows, cols, srcH, srcW, total); }                        \
    extern "C" __global__ void scatter_##S(const T* tiles, T* dst, const int* origins, int count, int h, int w,      \
        int th, int tw, i64 total) { scatter<T>(tiles, dst, origins, count, h, w, th, tw, total); }                 \
    extern "C" __global__ void restore_##S(const T* src, T* dst, const int* origins, int count, int h, int w,        \
        int th, int tw, i64 total) { restore<T>(src, dst, origins, count, h, w, th, tw, total); }                   \
    extern "C" __global__ void zero_padding_##S(T* tiles, const int* origins, int count, int h, int w, int th,       \
        int tw, i64 total) { zero_padding<T>(tiles, origins, count, h, w, th, tw, total); }

INSTANTIATE(float, f32)
INSTANTIATE(__half, f16)
