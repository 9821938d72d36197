// Tessera's CUDA kernels: everything the dense and sparse passes need besides cuDNN's convolutions
// and cuBLAS's products. Each kernel exists for float32 (suffix _f32) and float16 storage (_f16),
// with float32 arithmetic in both; conv_igemm_f16 (tensor cores) exists only for float16. Layouts:
// full maps are NCHW; tiles are channel-major [C, tiles, th, tw] (TileGeometry), so per-channel
// kernels treat both as [C, plane] planes.
// Built by build-kernels.sh into tessera_kernels.fatbin (sm_80/86/89/90 + PTX); see README.
#include <cuda_fp16.h>
#include <mma.h>

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

// Programmatic dependent launch (sm_90 and later, where Kernels launches with it): a kernel may be
// launched while the previous kernel of its stream is finishing. Every kernel starts here (the
// __device__ functions below that a kernel runs, or the kernel itself): it waits until that kernel
// has finished and its writes are visible, then lets the next kernel of the stream launch.
__device__ __forceinline__ void follow_previous() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
    asm volatile("griddepcontrol.wait;\n\tgriddepcontrol.launch_dependents;" ::: "memory");
#endif
}

#define GRID_STRIDE(i, total) for (i64 i = blockIdx.x * (i64) blockDim.x + threadIdx.x; i < (total); i += (i64) gridDim.x * blockDim.x)

// Kernels over rows of a [rows, cols] view (a channel plane per row, a tile position per column) run
// on a 2D grid, so no thread divides 64-bit indices (which made these memory-bound kernels ALU-bound).
#define ROWS(row, rows) for (int row = blockIdx.y; row < (rows); row += gridDim.y)
#define COLS(col, cols) for (int col = blockIdx.x * blockDim.x + threadIdx.x; col < (cols); col += gridDim.x * blockDim.x)

// Elementwise kernels move 16 bytes a thread at a time (8 float16 or 4 float32 values) where a row
// allows it: with one 2-byte value a thread, too few bytes were in flight to near the memory's
// bandwidth (a float16 add of two 128 x 256 x 256 maps took 44 us on an H100, 0.76 TB/s).
template <typename T> struct Pack { static constexpr int N = 16 / sizeof(T); };
__device__ __forceinline__ void load_pack(const float* p, float* v) {
    float4 r = *reinterpret_cast<const float4*>(p);
    v[0] = r.x; v[1] = r.y; v[2] = r.z; v[3] = r.w;
}
__device__ __forceinline__ void load_pack(const __half* p, float* v) {
    uint4 r = *reinterpret_cast<const uint4*>(p);
    const __half2* h = reinterpret_cast<const __half2*>(&r);
#pragma unroll
    for (int i = 0; i < 4; i++) { float2 f = __half22float2(h[i]); v[2 * i] = f.x; v[2 * i + 1] = f.y; }
}
__device__ __forceinline__ void store_pack(float* p, const float* v) { *reinterpret_cast<float4*>(p) = make_float4(v[0], v[1], v[2], v[3]); }
__device__ __forceinline__ void store_pack(__half* p, const float* v) {
    uint4 r;
    __half2* h = reinterpret_cast<__half2*>(&r);
#pragma unroll
    for (int i = 0; i < 4; i++) h[i] = __floats2half2_rn(v[2 * i], v[2 * i + 1]);
    *reinterpret_cast<uint4*>(p) = r;
}
__device__ __forceinline__ bool aligned16(const void* p) { return p == nullptr || ((size_t) p & 15) == 0; }

// y[p] = f(a[p], b[p], c[p]) for p < n (a missing input reads 0), in packs where n and the
// pointers allow; the block's threads and the grid's x blocks share the work (COLS).
template <typename T, typename F>
__device__ __forceinline__ void map_row(T* y, i64 n, F f, const T* a, const T* b = nullptr, const T* c = nullptr) {
    constexpr int N = Pack<T>::N;
    if (n % N == 0 && aligned16(y) && aligned16(a) && aligned16(b) && aligned16(c)) {
        COLS(j, (int) (n / N)) {
            float va[N], vb[N] = {}, vc[N] = {};
            load_pack(a + (i64) j * N, va);
            if (b) load_pack(b + (i64) j * N, vb);
            if (c) load_pack(c + (i64) j * N, vc);
#pragma unroll
            for (int u = 0; u < N; u++) va[u] = f(va[u], vb[u], vc[u]);
            store_pack(y + (i64) j * N, va);
        }
    } else {
        COLS(p, (int) n) store(y, p, f(load(a, p), b ? load(b, p) : 0.f, c ? load(c, p) : 0.f));
    }
}

// y = act(x * scale[k] + shift[k]) over rows of `plane` elements, k = row % channels; null scale = 1,
// null shift = 0. Serves bias, batch norm, cached group-norm affines and plain activations. x may equal y.
template <typename T>
__device__ void channel_affine(const T* x, T* y, const float* scale, const float* shift, int channels, int plane, int rows,
                               int act, float slope) {
    follow_previous();
    ROWS(row, rows) {
        int k = row % channels;
        float a = scale ? scale[k] : 1.f, b = shift ? shift[k] : 0.f;
        map_row(y + (i64) row * plane, plane, [&](float v, float, float) { return activate(v * a + b, act, slope); },
                x + (i64) row * plane);
    }
}

// SPADE: y = act((x * scale[c] + shift[c]) * (1 + gamma) + beta), gammaBeta [N, 2C, plane] (gamma first); rows = N*C.
template <typename T>
__device__ void spade(const T* x, const T* gb, T* y, const float* scale, const float* shift, int channels, int plane,
                      int rows, int act, float slope) {
    follow_previous();
    ROWS(row, rows) {
        int n = row / channels, c = row % channels;
        const T* gamma = gb + ((i64) n * 2 * channels + c) * plane;
        float a = scale[c], b = shift[c];
        map_row(y + (i64) row * plane, plane,
                [&](float v, float g, float be) { return activate((v * a + b) * (1.f + g) + be, act, slope); },
                x + (i64) row * plane, gamma, gamma + (i64) channels * plane);
    }
}

// y = act(a + b) over rows of `plane`; b is the same shape, or one value per row (per (n, c)) when perChannel.
template <typename T>
__device__ void add(const T* a, const T* b, T* y, int plane, int perChannel, int rows, int act, float slope) {
    follow_previous();
    ROWS(row, rows) {
        i64 base = (i64) row * plane;
        if (perChannel) {
            float v = load(b, row);
            map_row(y + base, plane, [&](float x, float, float) { return activate(x + v, act, slope); }, a + base);
        } else {
            map_row(y + base, plane, [&](float x, float z, float) { return activate(x + z, act, slope); }, a + base, b + base);
        }
    }
}

// Sum and sum of squares (in double) of x[from, to) over the whole block; every thread gets both.
// Two packs (16 bytes each) in flight a thread where the range allows, else four values: one value
// at a time, the loop waited on memory once an element (a 256x256 group norm took 67 us on an H100).
template <typename T>
__device__ void block_sums(const T* x, i64 from, i64 to, double& sum, double& squares) {
    constexpr int N = Pack<T>::N;
    double s = 0, q = 0;
    const i64 stride = blockDim.x;
    if (from % N == 0 && to % N == 0 && aligned16(x)) {
        i64 j = from / N + threadIdx.x, end = to / N;
        for (; j < end; j += 2 * stride) {
            float v[2][N] = {};
            load_pack(x + j * N, v[0]);
            if (j + stride < end) load_pack(x + (j + stride) * N, v[1]);
            float ps = 0.f, pq = 0.f; // 2N values in float, then into double
#pragma unroll
            for (int u = 0; u < 2 * N; u++) {
                ps += v[u / N][u % N];
                pq += v[u / N][u % N] * v[u / N][u % N];
            }
            s += ps;
            q += pq;
        }
    } else {
        i64 i = from + threadIdx.x;
        for (; i + 3 * stride < to; i += 4 * stride) {
            float v[4];
#pragma unroll
            for (int u = 0; u < 4; u++) v[u] = load(x, i + u * stride);
#pragma unroll
            for (int u = 0; u < 4; u++) {
                s += v[u];
                q += (double) v[u] * v[u];
            }
        }
        for (; i < to; i += stride) {
            double v = load(x, i);
            s += v;
            q += v * v;
        }
    }
    __shared__ double ss[32], qs[32];
    for (int o = 16; o > 0; o >>= 1) {
        s += __shfl_down_sync(0xffffffff, s, o);
        q += __shfl_down_sync(0xffffffff, q, o);
    }
    if ((threadIdx.x & 31) == 0) { ss[threadIdx.x >> 5] = s; qs[threadIdx.x >> 5] = q; }
    __syncthreads();
    sum = 0;
    squares = 0;
    for (int w = 0; w < (blockDim.x + 31) / 32; w++) { sum += ss[w]; squares += qs[w]; }
}

// Group norm statistics in two kernels, so that large maps spread over many blocks: partial sums
// (sum and sum of squares, in double) of chunk blockIdx.x of group blockIdx.y (= n * groups + g)
// into partial[2 * (group * chunks + chunk)], then group_norm_affine.
template <typename T>
__device__ void group_norm_partial(const T* x, double* partial, int channels, int groups, i64 plane, int chunks) {
    follow_previous();
    int ng = blockIdx.y, n = ng / groups, g = ng % groups, gc = channels / groups;
    i64 count = gc * plane, per = ((count + chunks - 1) / chunks + 7) / 8 * 8, from = blockIdx.x * per; // whole packs
    double s, q;
    block_sums(x + ((i64) n * channels + (i64) g * gc) * plane, from, min(count, from + per), s, q);
    if (threadIdx.x == 0) {
        partial[2 * ((i64) ng * chunks + blockIdx.x)] = s;
        partial[2 * ((i64) ng * chunks + blockIdx.x) + 1] = q;
    }
}

// Group norm of a small map in one kernel, one block per (n, group): statistics, the per-channel
// affine (also written to scale and shift, which the full pass caches), then y = act(x * scale + shift).
template <typename T>
__device__ void group_norm_small(const T* x, T* y, const float* weight, const float* bias, float* scale, float* shift,
                                 int channels, int groups, i64 plane, float eps, int act, float slope) {
    follow_previous();
    int ng = blockIdx.x, n = ng / groups, g = ng % groups, gc = channels / groups;
    i64 count = gc * plane, base = ((i64) n * channels + (i64) g * gc) * plane;
    double s, q;
    block_sums(x + base, 0, count, s, q);
    __shared__ float a[64], b[64]; // per-channel affine of the group (gc <= 64)
    if (threadIdx.x < gc) {
        double mean = s / count, var = q / count - mean * mean;
        double inv = 1.0 / sqrt((var > 0 ? var : 0) + eps);
        int c = g * gc + threadIdx.x;
        a[threadIdx.x] = (float) (weight[c] * inv);
        b[threadIdx.x] = (float) (bias[c] - mean * weight[c] * inv);
        scale[n * channels + c] = a[threadIdx.x];
        shift[n * channels + c] = b[threadIdx.x];
    }
    __syncthreads();
    constexpr int N = Pack<T>::N; // count <= 16384 below: 32-bit division
    if (plane % N == 0 && aligned16(x + base) && aligned16(y + base)) { // a pack lies in one channel
        for (int j = threadIdx.x; j < (int) count / N; j += blockDim.x) {
            int k = j * N / (int) plane;
            float v[N];
            load_pack(x + base + (i64) j * N, v);
#pragma unroll
            for (int u = 0; u < N; u++) v[u] = activate(v[u] * a[k] + b[k], act, slope);
            store_pack(y + base + (i64) j * N, v);
        }
    } else {
        for (int i = threadIdx.x; i < (int) count; i += blockDim.x) {
            int k = i / (int) plane;
            store(y, base + i, activate(load(x, base + i) * a[k] + b[k], act, slope));
        }
    }
}

// The per-channel affine of group norm, scale[n*C+c] and shift[n*C+c], from its group's partial sums.
extern "C" __global__ void group_norm_affine(const double* partial, const float* weight, const float* bias, float* scale,
                                             float* shift, int channels, int groups, i64 plane, int chunks, float eps, int rows) {
    follow_previous();
    COLS(row, rows) {
        int n = row / channels, c = row % channels, gc = channels / groups;
        const double* p = partial + 2 * ((i64) (n * groups + c / gc) * chunks);
        double st = 0, qt = 0;
        for (int k = 0; k < chunks; k++) { st += p[2 * k]; qt += p[2 * k + 1]; }
        double count = (double) gc * plane, mean = st / count, var = qt / count - mean * mean;
        double inv = 1.0 / sqrt((var > 0 ? var : 0) + eps);
        scale[row] = (float) (weight[c] * inv);
        shift[row] = (float) (bias[c] - mean * weight[c] * inv);
    }
}

// Nearest resize through precomputed source indices; rows = N*C planes.
template <typename T>
__device__ void resize_nearest(const T* x, T* y, const int* rowIndex, const int* colIndex, int inH, int inW, int outH,
                               int outW, int rows) {
    follow_previous();
    ROWS(row, rows) {
        const T* xr = x + (i64) row * inH * inW;
        T* yr = y + (i64) row * outH * outW;
        COLS(p, outH * outW) store(yr, p, load(xr, rowIndex[p / outW] * inW + colIndex[p % outW]));
    }
}

// dst[n, dstStart + c, :] = src[n, srcStart + c, :] for c < count (concat, slice); rows = N*count.
template <typename T>
__device__ void copy_channels(const T* src, T* dst, int srcC, int srcStart, int dstC, int dstStart, int count, int plane,
                              int rows) {
    follow_previous();
    ROWS(row, rows) {
        int n = row / count, c = row % count;
        const T* s = src + ((i64) n * srcC + srcStart + c) * plane;
        map_row(dst + ((i64) n * dstC + dstStart + c) * plane, plane, [](float v, float, float) { return v; }, s);
    }
}

// Channels [start, start + ca + cb) of out [N, outC, plane] from a [N, ca, plane] then b [N, cb, plane]
// (cb may be 0): a concat of two inputs in one launch. rows = N * (ca + cb).
template <typename T>
__device__ void concat2(const T* a, int ca, const T* b, int cb, T* out, int outC, int start, int plane, int rows) {
    follow_previous();
    ROWS(row, rows) {
        int n = row / (ca + cb), c = row % (ca + cb);
        const T* s = c < ca ? a + ((i64) n * ca + c) * plane : b + ((i64) n * cb + c - ca) * plane;
        map_row(out + ((i64) n * outC + start + c) * plane, plane, [](float v, float, float) { return v; }, s);
    }
}

// Zero-padded copy of x [rows, h, w] into y [rows, outH, outW] at (top, left): asymmetric conv padding.
template <typename T>
__device__ void pad(const T* x, T* y, int h, int w, int top, int left, int outH, int outW, int rows) {
    follow_previous();
    ROWS(row, rows) {
        const T* xr = x + (i64) row * h * w;
        T* yr = y + (i64) row * outH * outW;
        COLS(p, outH * outW) {
            int iy = p / outW - top, ix = p % outW - left;
            store(yr, p, iy >= 0 && iy < h && ix >= 0 && ix < w ? load(xr, iy * w + ix) : 0.f);
        }
    }
}

// Row-wise softmax in place, one block per row.
template <typename T>
__device__ void softmax_rows(T* a, int cols) {
    follow_previous();
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

// DDPM's sinusoidal embedding of timesteps t [N] into out [N, dim] (sin half, then cos half); rows = N.
template <typename T>
__device__ void timestep_embedding(const T* t, T* out, int dim, int rows) {
    follow_previous();
    int half = dim / 2;
    float step = logf(10000.f) / (half - 1);
    ROWS(row, rows) {
        COLS(k, dim) {
            float v = 0.f;
            if (k < 2 * half) {
                float arg = load(t, row) * expf((k % half) * -step);
                v = k < half ? sinf(arg) : cosf(arg);
            }
            store(out, (i64) row * dim + k, v);
        }
    }
}

// The tile position q of a [count, th, tw] tile batch as map coordinates (r, c); false if outside the h x w map.
__device__ __forceinline__ bool tile_pixel(const int* origins, int q, int th, int tw, int h, int w, int& r, int& c) {
    int per = th * tw, t = q / per, k = q % per;
    r = origins[2 * t] + k / tw;
    c = origins[2 * t + 1] + k % tw;
    return r >= 0 && r < h && c >= 0 && c < w;
}

// Tiles out [C, positions] read through gather indices (GatherIndex in sdk-runtime), one entry per
// tile pixel: k >= 0 reads tiles[c, k] ([C, tilePositions]), -1 is padding (zero), any other entry
// reads map[c, -2 - k] ([C, plane]). In mode GATHER_ADD, a second source (index2 not null) is added,
// and a per-channel vector (not null); then, except on padding, act(v * scale[c] + shift[c]) (null
// scale and shift: none). In mode GATHER_SPADE the second source is SPADE's gamma and beta (2C
// channels) and the value act((v * scale[c] + shift[c]) * (1 + gamma) + beta), scale and shift its
// batch norm. rows of the grid = channels. (Plain gathers, most of them, are measurably faster
// compiled without the adds.)
enum GatherMode { GATHER_PLAIN, GATHER_ADD, GATHER_SPADE };
// Channel ch of the source entry k (k >= 0: tiles[ch, k]; otherwise map[ch, -2 - k]).
template <typename T>
__device__ __forceinline__ float gathered(int k, const T* tiles, int tilePositions, const T* map, i64 plane, int ch) {
    return k >= 0 ? load(tiles, (i64) ch * tilePositions + k) : load(map, ch * plane - 2 - k);
}

// A thread reads its pixel's index entries once and gathers `per` (at most GATHER_CHANNELS)
// channels of it, all their loads in flight together (one channel a thread waited on its index,
// then on its value); CudaExecutor picks `per` so that the grid keeps a few blocks a multiprocessor.
#define GATHER_CHANNELS 8
template <typename T, GatherMode MODE>
__device__ void gather(const int* index, const T* tiles, int tilePositions, const T* map, i64 plane, const int* index2,
                       const T* tiles2, int tilePositions2, const T* map2, i64 plane2, const T* vector, int positions, T* out,
                       int channels, const float* scale, const float* shift, int act, float slope, int per) {
    follow_previous();
    COLS(q, positions) {
        int k = index[q], k2 = MODE != GATHER_PLAIN && index2 ? index2[q] : 0;
        for (int c0 = blockIdx.y * per; c0 < channels; c0 += gridDim.y * per) {
            float v[GATHER_CHANNELS];
#pragma unroll
            for (int u = 0; u < GATHER_CHANNELS; u++) {
                int ch = min(c0 + u, channels - 1);
                v[u] = 0.f; // padding
                if (k == -1 || u >= per) continue;
                v[u] = gathered(k, tiles, tilePositions, map, plane, ch);
                if (MODE == GATHER_ADD) {
                    if (vector) v[u] += load(vector, ch);
                    if (index2) v[u] += gathered(k2, tiles2, tilePositions2, map2, plane2, ch);
                }
                if (scale) v[u] = v[u] * scale[ch] + shift[ch];
                if (MODE == GATHER_SPADE) {
                    v[u] = v[u] * (1.f + gathered(k2, tiles2, tilePositions2, map2, plane2, ch))
                           + gathered(k2, tiles2, tilePositions2, map2, plane2, channels + ch);
                }
                v[u] = activate(v[u], act, slope);
            }
#pragma unroll
            for (int u = 0; u < GATHER_CHANNELS; u++) {
                if (u < per && c0 + u < channels) store(out, (i64) (c0 + u) * positions + q, v[u]);
            }
        }
    }
}

// Writes the in-map pixels of tiles [C, count, th, tw] into the full map dst [C, h, w].
template <typename T>
__device__ void scatter(const T* tiles, T* dst, const int* origins, int count, int h, int w, int th, int tw, int channels) {
    follow_previous();
    int positions = count * th * tw;
    ROWS(ch, channels) {
        COLS(q, positions) {
            int r, c;
            if (tile_pixel(origins, q, th, tw, h, w, r, c)) dst[((i64) ch * h + r) * w + c] = tiles[(i64) ch * positions + q];
        }
    }
}

// Copies the pixels under the tiles from the full map src into the full map dst (both [C, h, w]).
template <typename T>
__device__ void restore(const T* src, T* dst, const int* origins, int count, int h, int w, int th, int tw, int channels) {
    follow_previous();
    int positions = count * th * tw;
    ROWS(ch, channels) {
        COLS(q, positions) {
            int r, c;
            if (tile_pixel(origins, q, th, tw, h, w, r, c)) {
                i64 at = ((i64) ch * h + r) * w + c;
                dst[at] = src[at];
            }
        }
    }
}

// Zeroes the pixels of tiles that lie outside the map (after ops that do not keep 0 at 0).
template <typename T>
__device__ void zero_padding(T* tiles, const int* origins, int count, int h, int w, int th, int tw, int channels) {
    follow_previous();
    int positions = count * th * tw;
    ROWS(ch, channels) {
        COLS(q, positions) {
            int r, c;
            if (!tile_pixel(origins, q, th, tw, h, w, r, c)) store(tiles, (i64) ch * positions + q, 0.f);
        }
    }
}

// The im2col kernels: a thread reads its column's element of each of IM2COL_ROWS rows before it
// writes any, so those reads are in flight together. (One row a block made a GauGAN 1024-channel
// tile conv's im2col a grid of 9216 short blocks that took longer than the product itself.) A block's
// IM2COL_THREADS threads cover `span` columns (a multiple of 32, at most IM2COL_THREADS; CudaExecutor
// picks it) of IM2COL_THREADS / span groups of rows, so few columns (a few tiles) leave no thread
// idle; blockIdx.y strides over the groups. A thread works its rows' kernel taps out once a group
// and steps through them: dividing each row by run-time kernel sizes made the kernel ALU-bound (96
// registers, 12 us for that 1024-channel conv on 8 tiles under ncu, 2026-11-23).
// With a bias they also fill the product's output, out[co, p] = bias[co] (row stride ldo, couts
// rows; couts at most rows), which cuBLAS then adds its product to (beta = 1): the bias needs no launch of its own.
// map_im2col may add an addend to that fill, a map like out (addend[co, p], row stride ldo) or one
// value a channel (addend[co] when perChannel): a conv's fused add (DenseSchedule) then costs no launch.
#define IM2COL_ROWS 8

// Row (c*kh + i)*kw + j of an im2col matrix as its channel and kernel tap, stepped row by row.
struct Tap {
    int c, i, j;
    __device__ Tap(int row, int kh, int kw) : c(row / (kh * kw)), i(row / kw % kh), j(row % kw) {}
    __device__ void next(int kh, int kw) {
        if (++j < kw) return;
        j = 0;
        if (++i < kh) return;
        i = 0;
        c++;
    }
};

// This thread's column p and its first group of rows (slot, of slots), or p = -1 if it has none.
struct Im2colThread { int p, slot, slots; };
__device__ __forceinline__ Im2colThread im2col_thread(int span, int columns) {
    int per = blockDim.x / span, p = blockIdx.x * span + threadIdx.x % span;
    bool active = threadIdx.x < per * span && p < columns;
    return {active ? p : -1, (int) (blockIdx.y * per + threadIdx.x / span), (int) gridDim.y * per};
}

// The thread's column of every row group it owns: cols[row, p] = value(tap of row), and the bias.
template <typename T, typename Value>
__device__ __forceinline__ void im2col_column(const Im2colThread& t, T* __restrict__ cols, int columns, int rows, int kh, int kw,
                                              T* out, int ldo, const float* bias, int couts, const T* addend, int perChannel,
                                              Value value) {
    if (bias || addend) {
        for (int co = t.slot; co < couts; co += t.slots) {
            float a = addend ? load(addend, perChannel ? co : (i64) co * ldo + t.p) : 0.f;
            store(out, (i64) co * ldo + t.p, (bias ? bias[co] : 0.f) + a);
        }
    }
    for (int r0 = t.slot * IM2COL_ROWS; r0 < rows; r0 += t.slots * IM2COL_ROWS) {
        Tap tap(r0, kh, kw);
        float v[IM2COL_ROWS];
#pragma unroll
        for (int u = 0; u < IM2COL_ROWS; u++) {
            v[u] = r0 + u < rows ? value(tap) : 0.f;
            tap.next(kh, kw);
        }
#pragma unroll
        for (int u = 0; u < IM2COL_ROWS; u++) {
            if (r0 + u < rows) store(cols, (i64) (r0 + u) * columns + t.p, v[u]);
        }
    }
}

// im2col of a tile batch for a padding-free convolution: cols[(c*kh + i)*kw + j, (t*oh + y)*ow + x] =
// tiles[c, t, y*stride + i, x*stride + j]; tiles [C, count, th, tw]; rows = C*kh*kw.
template <typename T>
__device__ void tile_im2col(const T* __restrict__ tiles, T* __restrict__ cols, int count, int th, int tw, int kh, int kw,
                            int stride, int oh, int ow, int rows, T* out, int ldo, const float* bias, int couts, int span) {
    follow_previous();
    int columns = count * oh * ow;
    Im2colThread t = im2col_thread(span, columns);
    if (t.p < 0) return;
    int tile = t.p / (oh * ow), k = t.p % (oh * ow);
    const T* src = tiles + tile * th * tw + (k / ow) * stride * tw + (k % ow) * stride;
    const i64 plane = (i64) count * th * tw;
    im2col_column(t, cols, columns, rows, kh, kw, out, ldo, bias, couts, (const T*) nullptr, 0,
                  [&](const Tap& a) { return load(src, a.c * plane + a.i * tw + a.j); });
}

// im2col of output rows [y0, y0 + rows) of a padded, strided convolution of one sample x [C, h, w]:
// cols[(c*kh + i)*kw + j, (oy - y0)*ow + ox] = x[c, oy*stride - top + i, ox*stride - left + j], zero outside.
template <typename T>
__device__ void map_im2col(const T* __restrict__ x, T* __restrict__ cols, int h, int w, int kh, int kw, int stride, int top,
                           int left, int ow, int y0, int outRows, int rows, T* out, int ldo, const float* bias, int couts,
                           const T* addend, int perChannel, int span) {
    follow_previous();
    int columns = outRows * ow;
    Im2colThread t = im2col_thread(span, columns);
    if (t.p < 0) return;
    int iy0 = (y0 + t.p / ow) * stride - top, ix0 = (t.p % ow) * stride - left;
    const i64 plane = (i64) h * w;
    im2col_column(t, cols, columns, rows, kh, kw, out, ldo, bias, couts, addend, perChannel, [&](const Tap& a) {
        int iy = iy0 + a.i, ix = ix0 + a.j;
        return (unsigned) iy < (unsigned) h && (unsigned) ix < (unsigned) w ? load(x, a.c * plane + iy * w + ix) : 0.f;
    });
}

// Winograd F(MxM, 3x3) (Lavin and Gray, 2016) for padding-free 3x3 stride-1 convolutions whose
// outputs are multiples of M on each side, M = 4 or 2: every MxM block of output reads an AxA
// window (A = M + 2), V = B^T d B per input channel, M = U V per frequency (A*A batched GEMMs with
// U = G g G^T, the transformed weights), Y = A^T M A. F(4x4) does 36 multiplies per 16 outputs
// instead of 144, F(2x2) 16 per 4 instead of 36 with 16 instead of 36 transformed weights a filter
// (less to read where few windows share them). Transforms in float32 (float32 mode only).
template <int M> struct Winograd;

template <> struct Winograd<4> {
    __device__ static void bt(const float* d, int s, float* o, int os) { // o = B^T d, 6 -> 6
        float d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s], d4 = d[4 * s], d5 = d[5 * s];
        o[0] = 4.f * d0 - 5.f * d2 + d4;
        o[os] = -4.f * (d1 + d2) + d3 + d4;
        o[2 * os] = 4.f * (d1 - d2) - d3 + d4;
        o[3 * os] = 2.f * (d3 - d1) - d2 + d4;
        o[4 * os] = 2.f * (d1 - d3) - d2 + d4;
        o[5 * os] = 4.f * d1 - 5.f * d3 + d5;
    }
    __device__ static void at(const float* m, int s, float* o, int os) { // o = A^T m, 6 -> 4
        float m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s], m4 = m[4 * s], m5 = m[5 * s];
        o[0] = m0 + m1 + m2 + m3 + m4;
        o[os] = m1 - m2 + 2.f * (m3 - m4);
        o[2 * os] = m1 + m2 + 4.f * (m3 + m4);
        o[3 * os] = m1 - m2 + 8.f * (m3 - m4) + m5;
    }
    __device__ static void g(const float* g, int s, float* o, int os) { // o = G g, 3 -> 6
        float g0 = g[0], g1 = g[s], g2 = g[2 * s];
        o[0] = 0.25f * g0;
        o[os] = -(g0 + g1 + g2) / 6.f;
        o[2 * os] = -(g0 - g1 + g2) / 6.f;
        o[3 * os] = g0 / 24.f + g1 / 12.f + g2 / 6.f;
        o[4 * os] = g0 / 24.f - g1 / 12.f + g2 / 6.f;
        o[5 * os] = g2;
    }
};

template <> struct Winograd<2> {
    __device__ static void bt(const float* d, int s, float* o, int os) { // 4 -> 4
        float d0 = d[0], d1 = d[s], d2 = d[2 * s], d3 = d[3 * s];
        o[0] = d0 - d2;
        o[os] = d1 + d2;
        o[2 * os] = d2 - d1;
        o[3 * os] = d1 - d3;
    }
    __device__ static void at(const float* m, int s, float* o, int os) { // 4 -> 2
        float m0 = m[0], m1 = m[s], m2 = m[2 * s], m3 = m[3 * s];
        o[0] = m0 + m1 + m2;
        o[os] = m1 - m2 - m3;
    }
    __device__ static void g(const float* g, int s, float* o, int os) { // 3 -> 4
        float g0 = g[0], g1 = g[s], g2 = g[2 * s];
        o[0] = g0;
        o[os] = 0.5f * (g0 + g1 + g2);
        o[2 * os] = 0.5f * (g0 - g1 + g2);
        o[3 * os] = g2;
    }
};

// U[A*A, filters] = G w G^T of each 3x3 filter of w [filters, 3, 3] (filters = Cout * Cin).
template <int M>
__device__ void winograd_weights(const float* w, float* u, int filters) {
    follow_previous();
    constexpr int A = M + 2;
    COLS(f, filters) {
        float g[9], t[A * 3], v[A * A];
        for (int i = 0; i < 9; i++) g[i] = w[(i64) f * 9 + i];
        for (int j = 0; j < 3; j++) Winograd<M>::g(g + j, 3, t + j, 3);        // t[A][3] = G g
        for (int i = 0; i < A; i++) Winograd<M>::g(t + 3 * i, 1, v + A * i, 1); // v[A][A] = t G^T
        for (int k = 0; k < A * A; k++) u[(i64) k * filters + f] = v[k];
    }
}

// V[A*A, C, P] from x [C, count, h, w]: tiles (top = left = 0), or one map (count = 1) read with
// zero padding top and left (and wherever a window reaches past the bottom or right edge). Window
// p = (tile, MxM block of its oh x ow output) of channel c; P = count * oh / M * ow / M. rows of
// the grid = channels.
template <int M>
__device__ void winograd_input(const float* x, float* v, int count, int h, int w, int oh, int ow, int top, int left, int channels) {
    follow_previous();
    constexpr int A = M + 2;
    int bw = ow / M, per = oh / M * bw, windows = count * per;
    ROWS(c, channels) {
        COLS(p, windows) {
            int t = p / per, b = p % per, r0 = b / bw * M - top, c0 = b % bw * M - left;
            const float* d = x + ((i64) c * count + t) * h * w;
            float a[A * A], y[A * A];
            for (int i = 0; i < A; i++) {
                for (int j = 0; j < A; j++) {
                    int r = r0 + i, q = c0 + j;
                    a[A * i + j] = r >= 0 && r < h && q >= 0 && q < w ? d[r * w + q] : 0.f;
                }
            }
            for (int j = 0; j < A; j++) Winograd<M>::bt(a + j, A, y + j, A);    // columns
            for (int i = 0; i < A; i++) Winograd<M>::bt(y + A * i, 1, a + A * i, 1); // rows
            for (int k = 0; k < A * A; k++) v[((i64) k * channels + c) * windows + p] = a[k];
        }
    }
}

// Output tiles [C, count, oh, ow] or one map (count = 1), + bias[c] when given, from M[A*A, C, P]. rows of the grid = channels.
template <int M>
__device__ void winograd_output(const float* m, float* out, const float* bias, int count, int oh, int ow, int channels) {
    follow_previous();
    constexpr int A = M + 2;
    int bw = ow / M, per = oh / M * bw, windows = count * per;
    ROWS(c, channels) {
        float b0 = bias ? bias[c] : 0.f;
        COLS(p, windows) {
            float x[A * A], y[M * A], z[M * M];
            for (int k = 0; k < A * A; k++) x[k] = m[((i64) k * channels + c) * windows + p];
            for (int j = 0; j < A; j++) Winograd<M>::at(x + j, A, y + j, A);    // y[M][A]
            for (int i = 0; i < M; i++) Winograd<M>::at(y + A * i, 1, z + M * i, 1); // z[M][M]
            int t = p / per, b = p % per;
            float* o = out + (((i64) c * count + t) * oh + b / bw * M) * ow + b % bw * M;
            for (int i = 0; i < M; i++) for (int j = 0; j < M; j++) o[i * ow + j] = z[M * i + j] + b0;
        }
    }
}

#define WINOGRAD(M)                                                                                                  \
    extern "C" __global__ void winograd_weights_##M(const float* w, float* u, int filters) {                       \
        winograd_weights<M>(w, u, filters); }                                                                        \
    extern "C" __global__ void winograd_input_##M(const float* x, float* v, int count, int h, int w, int oh, int ow, \
        int top, int left, int channels) { winograd_input<M>(x, v, count, h, w, oh, ow, top, left, channels); }      \
    extern "C" __global__ void winograd_output_##M(const float* m, float* out, const float* bias, int count, int oh, \
        int ow, int channels) { winograd_output<M>(m, out, bias, count, oh, ow, channels); }

WINOGRAD(4)
WINOGRAD(2)

// y[m, n] = sum over s of partial[s, m, n] (+ bias[m]): the end of a GEMM split along K into `slices`
// products, so that a product with few output tiles (a conv of a small map) still fills the GPU.
// Partials are float32 in both modes. rows of the grid = m.
template <typename T>
__device__ void sum_slices(const float* partial, T* y, const float* bias, int rows, int cols, int slices) {
    follow_previous();
    ROWS(m, rows) {
        float b = bias ? bias[m] : 0.f;
        COLS(n, cols) {
            float v = b;
            for (int s = 0; s < slices; s++) v += partial[((i64) s * rows + m) * cols + n];
            store(y, (i64) m * cols + n, v);
        }
    }
}

// float32 <-> storage type, for uploads and downloads in float16 mode.
extern "C" __global__ void to_half(const float* x, __half* y, i64 total) {
    follow_previous();
    GRID_STRIDE(i, total) y[i] = __float2half(x[i]);
}
extern "C" __global__ void to_float(const __half* x, float* y, i64 total) {
    follow_previous();
    GRID_STRIDE(i, total) y[i] = __half2float(x[i]);
}


// A 3x3 stride-1 convolution with at most NARROW_OUT (4) output channels on full maps, such as the
// RGB output conv of a UNet or a generator: x [N, Cin, h, w], weight [Cout, Cin, 3, 3], out [N, Cout,
// oh, ow] = act(conv + bias), read at (oy - top + ky, ox - left + kx), zero outside. As a GEMM
// such a conv has 4 or fewer rows, which fill little of a GEMM's tiles; in float32 a 128 -> 3 conv
// on a 256x256 map took 88 us as Winograd F(4x4) and 236 in cuDNN's best (H100), 44 us here; in
// float16 this ties cuDNN (67 against 65 us). A block computes 32 x 8 outputs of every output
// channel; its input rows (with their halo) and weights pass through shared memory NARROW_CHANNELS
// input channels at a time, and each thread keeps two output rows of all output channels in
// registers, so an input value read from shared memory serves up to 8 products. A thread loads the
// next channels into registers while it computes the current ones: loaded and stored one element
// at a time, the loads waited on memory one after another (110 us in float16).
#define NARROW_OUT 4
#define NARROW_CHANNELS 16
#define NARROW_W 32
#define NARROW_H 8
#define NARROW_THREADS 128
template <typename T>
__device__ void conv_narrow(const T* x, const T* weight, const float* bias, T* out, int cin, int cout, int h, int w,
                            int oh, int ow, int top, int left, int act, float slope) {
    follow_previous();
    constexpr int IN_H = NARROW_H + 2, IN_W = NARROW_W + 2, IN = NARROW_CHANNELS * IN_H * IN_W;
    constexpr int IN_PER_THREAD = (IN + NARROW_THREADS - 1) / NARROW_THREADS, TAPS = NARROW_CHANNELS * 9;
    constexpr int TAPS_PER_THREAD = (TAPS + NARROW_THREADS - 1) / NARROW_THREADS;
    __shared__ float in[NARROW_CHANNELS][IN_H][IN_W];
    __shared__ float4 wt[NARROW_CHANNELS][9]; // the NARROW_OUT output channels of one tap, zero past cout
    const int n = blockIdx.z, tx = threadIdx.x % NARROW_W, ty = threadIdx.x / NARROW_W;
    const int ox = blockIdx.x * NARROW_W + tx, oy0 = blockIdx.y * NARROW_H + 2 * ty;
    const int iy0 = blockIdx.y * NARROW_H - top, ix0 = blockIdx.x * NARROW_W - left;
    const T* xn = x + (i64) n * cin * h * w;
    float inNext[IN_PER_THREAD];
    float4 wtNext[TAPS_PER_THREAD];
    auto fetch = [&](int c0) { // channels [c0, c0 + NARROW_CHANNELS) into registers, zero outside
#pragma unroll
        for (int u = 0; u < IN_PER_THREAD; u++) {
            int e = threadIdx.x + u * NARROW_THREADS, c = e / (IN_H * IN_W), r = e % (IN_H * IN_W) / IN_W, col = e % IN_W;
            int iy = iy0 + r, ix = ix0 + col;
            bool inside = e < IN && c0 + c < cin && (unsigned) iy < (unsigned) h && (unsigned) ix < (unsigned) w;
            inNext[u] = inside ? load(xn, ((i64) (c0 + c) * h + iy) * w + ix) : 0.f;
        }
#pragma unroll
        for (int u = 0; u < TAPS_PER_THREAD; u++) {
            int e = threadIdx.x + u * NARROW_THREADS, c = e / 9, tap = e % 9;
            float v[NARROW_OUT];
#pragma unroll
            for (int co = 0; co < NARROW_OUT; co++) {
                v[co] = e < TAPS && co < cout && c0 + c < cin ? load(weight, ((i64) co * cin + c0 + c) * 9 + tap) : 0.f;
            }
            wtNext[u] = make_float4(v[0], v[1], v[2], v[3]);
        }
    };
    float4 acc[2] = {make_float4(0.f, 0.f, 0.f, 0.f), make_float4(0.f, 0.f, 0.f, 0.f)};
    fetch(0);
    for (int c0 = 0; c0 < cin; c0 += NARROW_CHANNELS) {
        __syncthreads(); // every thread is done with the previous channels
#pragma unroll
        for (int u = 0; u < IN_PER_THREAD; u++) {
            int e = threadIdx.x + u * NARROW_THREADS;
            if (e < IN) (&in[0][0][0])[e] = inNext[u];
        }
#pragma unroll
        for (int u = 0; u < TAPS_PER_THREAD; u++) {
            int e = threadIdx.x + u * NARROW_THREADS;
            if (e < TAPS) (&wt[0][0])[e] = wtNext[u];
        }
        __syncthreads();
        if (c0 + NARROW_CHANNELS < cin) fetch(c0 + NARROW_CHANNELS); // in flight during the products below
#pragma unroll 4
        for (int c = 0; c < NARROW_CHANNELS; c++) {
#pragma unroll
            for (int r = 0; r < 4; r++) { // input rows 2ty + r feed output rows 2ty (tap row r) and 2ty + 1 (r - 1)
#pragma unroll
                for (int kx = 0; kx < 3; kx++) {
                    float v = in[c][2 * ty + r][tx + kx];
#pragma unroll
                    for (int o = 0; o < 2; o++) {
                        int ky = r - o;
                        if (ky < 0 || ky > 2) continue;
                        float4 k = wt[c][ky * 3 + kx];
                        acc[o].x += v * k.x;
                        acc[o].y += v * k.y;
                        acc[o].z += v * k.z;
                        acc[o].w += v * k.w;
                    }
                }
            }
        }
    }
    for (int o = 0; o < 2; o++) {
        int oy = oy0 + o;
        if (oy >= oh || ox >= ow) continue;
        float v[NARROW_OUT] = {acc[o].x, acc[o].y, acc[o].z, acc[o].w};
        for (int co = 0; co < cout; co++) {
            store(out, (((i64) n * cout + co) * oh + oy) * ow + ox, activate(v[co] + (bias ? bias[co] : 0.f), act, slope));
        }
    }
}

// Convolution as one implicit GEMM on tensor cores (float16 in, float32 accumulation), for float16
// mode: out[co, p] = act(bias[co] + sum_k W[co, k] col[k, p]), where the im2col element col[k, p] is
// read from x as it is needed instead of being written out first. x is [Cin, count, h, w] (tiles,
// or one map with count = 1), out [Cout, count, oh, ow]; k = (ci*kh + ky)*kw + kx, p = (t*oh + oy)*ow
// + ox, read at (oy*stride - top + ky, ox*stride - left + kx), zero outside. x holds fewer than 2^31
// elements, its maps are under 16384 high and wide.
// One launch replaces im2col + GEMM + bias (three), and it fills the GPU when the product is small:
// a block computes 128 x 64 outputs over one slice of K (blockIdx.z). With several slices each block
// writes its float32 partial to `partial` [slices, Cout, P]; the last block of an output block to
// finish (counted in `arrivals`, which it resets for the next launch) adds them up in slice order
// (deterministic) and applies bias and activation. Launches that share `arrivals` must run one
// after another (one stream). Weights stream through a 3-stage cp.async ring; the gathered input,
// which is small and mostly in L2, is loaded two steps ahead through registers.
#define IG_BM 128
#define IG_BN 64
#define IG_BK 32
#define IG_STAGES 3
#define IG_THREADS 256
#define FAR 0x4000 // an offset that puts a read outside every map (maps are under 16384 wide and high)

__device__ __forceinline__ void cp_async16(void* shared, const void* global, bool valid) {
    unsigned to = (unsigned) __cvta_generic_to_shared(shared);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(to), "l"(global), "r"(valid ? 16 : 0));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int pending> __device__ __forceinline__ void cp_async_wait() { asm volatile("cp.async.wait_group %0;\n" ::"n"(pending)); }

extern "C" __global__ void __launch_bounds__(IG_THREADS, 2) conv_igemm_f16(
    const __half* x, const __half* weight, const float* bias, __half* out, float* partial, int* arrivals, int count, int h,
    int w, int cin, int cout, int kh, int kw, int stride, int top, int left, int oh, int ow, int kPerSlice, int act,
    float slope) {
    follow_previous();
    using namespace nvcuda;
    const int K = cin * kh * kw, khw = kh * kw, P = count * oh * ow;
    const int m0 = blockIdx.y * IG_BM, n0 = blockIdx.x * IG_BN;
    const int kBegin = blockIdx.z * kPerSlice, kEnd = min(K, kBegin + kPerSlice);
    const int steps = (kEnd - kBegin + IG_BK - 1) / IG_BK;
    const int tid = threadIdx.x, warp = tid / 32;
    __shared__ __align__(128) union {
        struct { __half a[IG_STAGES][IG_BM][IG_BK + 8]; __half b[2][IG_BK][IG_BN + 8]; } in; // padded: fewer bank conflicts
        float c[IG_BM][IG_BN + 4];
    } s;
    // Where the input rows k of a step are, so the loads need no division: for step st (in [st % 3]),
    // row j: .x = ci*count*h*w + ky*w + kx, .y = ky << 16 | kx, or far outside every map past kEnd.
    __shared__ int2 rows[3][IG_BK];
    __shared__ int last;
    // Lane l of warp 0 describes row l of steps 0, 1, 2, ... in turn: k = (ci, r) advances by 32 a step.
    int rowCi = (kBegin + tid) / khw, rowR = (kBegin + tid) % khw;
    const int ciStep = IG_BK / khw, rStep = IG_BK % khw;
    auto describeRows = [&](int st) {
        int2 e = make_int2(0, FAR << 16 | FAR);
        if (kBegin + st * IG_BK + tid < kEnd) {
            int ky = rowR / kw, kx = rowR - ky * kw;
            e = make_int2(rowCi * count * h * w + ky * w + kx, ky << 16 | kx);
        }
        rows[st % 3][tid] = e;
        rowCi += ciStep;
        rowR += rStep;
        if (rowR >= khw) {
            rowR -= khw;
            rowCi++;
        }
    };

    // Weights, 8 halves a chunk: thread -> chunks tid and tid + 256 (row c/4, k (c%4)*8). Whole rows of
    // 16 bytes need K % 8 == 0; otherwise plain loads.
    const bool vectorA = K % 8 == 0;
    const __half* aFrom[2];
    bool aRowValid[2];
    for (int i = 0; i < 2; i++) {
        int c = tid + i * IG_THREADS, row = c / 4;
        aRowValid[i] = m0 + row < cout;
        aFrom[i] = weight + (i64) (aRowValid[i] ? m0 + row : 0) * K + (c % 4) * 8;
    }
    auto loadA = [&](int stage, int k0) {
        for (int i = 0; i < 2; i++) {
            int c = tid + i * IG_THREADS, kc = (c % 4) * 8;
            __half* to = &s.in.a[stage][c / 4][kc];
            const __half* from = aFrom[i] + k0;
            if (vectorA) {
                bool valid = aRowValid[i] && k0 + kc < kEnd;
                cp_async16(to, valid ? from : weight, valid);
            } else {
                for (int j = 0; j < 8; j++) to[j] = aRowValid[i] && k0 + kc + j < kEnd ? from[j] : __float2half(0.f);
            }
        }
    };
    // Input: thread -> output positions n0 + 4*(tid%16) + q (q < 4), rows tid/16 and tid/16 + 16 of a
    // step: each row description read serves four loads. A position past P reads as if far outside
    // the map: zero.
    const int bCol = 4 * (tid % 16), bRow = tid / 16;
    int iy0[4], ix0[4], at[4];
    for (int q = 0; q < 4; q++) {
        int p = n0 + bCol + q;
        iy0[q] = ix0[q] = FAR;
        at[q] = 0;
        if (p < P) {
            int t = p / (oh * ow), pq = p % (oh * ow);
            iy0[q] = (pq / ow) * stride - top;
            ix0[q] = (pq % ow) * stride - left;
            at[q] = t * h * w + iy0[q] * w + ix0[q];
        }
    }
    auto loadB = [&](__half (&to)[8], int st) {
        for (int j = 0; j < 2; j++) {
            int2 e = rows[st % 3][bRow + 16 * j]; // the same for half a warp: a broadcast
            int ky = e.y >> 16, kx = e.y & 0xffff;
            for (int q = 0; q < 4; q++) {
                int iy = iy0[q] + ky, ix = ix0[q] + kx;
                to[4 * j + q] = (unsigned) iy < (unsigned) h && (unsigned) ix < (unsigned) w ? x[at[q] + e.x] : __float2half(0.f);
            }
        }
    };

    wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[2][2];
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++) wmma::fill_fragment(acc[i][j], 0.f);
    const int wm = (warp / 2) * 32, wn = (warp % 2) * 32;
    // One step: its input (loaded two steps ahead, in `in`) to shared memory, the rows of the step
    // two ahead described, its weights from the ring; after the barrier the loads two steps ahead
    // into `in`, then the products.
    auto step = [&](int st, __half (&in)[8]) {
        const int buffer = st & 1, stage = st % IG_STAGES;
        for (int j = 0; j < 2; j++) { // four halves, one 8-byte store
            __half2 lo = __halves2half2(in[4 * j], in[4 * j + 1]), hi = __halves2half2(in[4 * j + 2], in[4 * j + 3]);
            *reinterpret_cast<uint2*>(&s.in.b[buffer][bRow + 16 * j][bCol]) =
                make_uint2(*reinterpret_cast<unsigned*>(&lo), *reinterpret_cast<unsigned*>(&hi));
        }
        if (warp == 0 && st + 2 < steps) describeRows(st + 2); // over step st - 1's rows, read three steps ago
        cp_async_wait<IG_STAGES - 2>(); // this step's weights have landed
        __syncthreads();
        if (st + 2 < steps) loadB(in, st + 2); // in flight during the next two steps' products
        int ahead = st + IG_STAGES - 1; // into the stage the previous step read
        if (ahead < steps) loadA(ahead % IG_STAGES, kBegin + ahead * IG_BK);
        cp_async_commit();
        for (int kk = 0; kk < IG_BK; kk += 16) {
            wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[2];
            wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[2];
            for (int i = 0; i < 2; i++) wmma::load_matrix_sync(fa[i], &s.in.a[stage][wm + 16 * i][kk], IG_BK + 8);
            for (int j = 0; j < 2; j++) wmma::load_matrix_sync(fb[j], &s.in.b[buffer][kk][wn + 16 * j], IG_BN + 8);
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        }
    };
    for (int i = 0; i < IG_STAGES - 1; i++) {
        if (i < steps) loadA(i, kBegin + i * IG_BK);
        cp_async_commit();
    }
    if (warp == 0) {
        describeRows(0);
        if (steps > 1) describeRows(1);
    }
    __syncthreads();
    __half even[8], odd[8]; // the inputs of even and odd steps: two register sets, indexed statically
    loadB(even, 0);
    if (steps > 1) loadB(odd, 1);
    for (int st = 0; st < steps; st += 2) {
        step(st, even);
        if (st + 1 < steps) step(st + 1, odd);
    }
    cp_async_wait<0>();
    __syncthreads();
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            wmma::store_matrix_sync(&s.c[wm + 16 * i][wn + 16 * j], acc[i][j], IG_BN + 4, wmma::mem_row_major);
    __syncthreads();

    // Thread -> outputs (m, n) = (tid/64 + 4i, tid%64), i < 32: rows of 64 consecutive positions.
    constexpr int PER_THREAD = IG_BM * IG_BN / IG_THREADS;
    const int n = tid % IG_BN, pos = n0 + n;
    const int slices = gridDim.z;
    if (slices > 1) {
        for (int i = 0; i < PER_THREAD; i++) {
            int m = tid / IG_BN + 4 * i;
            if (m0 + m < cout && pos < P) partial[((i64) blockIdx.z * cout + m0 + m) * P + pos] = s.c[m][n];
        }
        __threadfence(); // this block's partial is visible before it counts itself in
        __syncthreads();
        int* arrived = arrivals + blockIdx.y * gridDim.x + blockIdx.x;
        if (tid == 0) last = atomicAdd(arrived, 1) == slices - 1;
        __syncthreads();
        if (!last) return;
        __threadfence();
        if (tid == 0) *arrived = 0;
    }
    if (pos >= P) return;
    // The sum of the slices in slice order (this block's own read back too), so it does not depend on
    // which block came last; each thread sums its own outputs, eight at a time in registers.
    for (int i0 = 0; slices > 1 && i0 < PER_THREAD; i0 += 8) {
        float v[8] = {};
        const float* from = partial + (i64) (m0 + tid / IG_BN + 4 * i0) * P + pos;
#pragma unroll 4
        for (int z = 0; z < slices; z++) {
            for (int u = 0; u < 8; u++) {
                if (m0 + tid / IG_BN + 4 * (i0 + u) < cout) v[u] += __ldcg(from + ((i64) z * cout + 4 * u) * P); // from L2
            }
        }
        for (int u = 0; u < 8; u++) s.c[tid / IG_BN + 4 * (i0 + u)][n] = v[u];
    }
    for (int i = 0; i < PER_THREAD; i++) {
        int m = tid / IG_BN + 4 * i, co = m0 + m;
        if (co < cout) out[(i64) co * P + pos] = __float2half(activate(s.c[m][n] + (bias ? bias[co] : 0.f), act, slope));
    }
}

#define GATHER_KERNEL(T, S, NAME, MODE)                                                                              \
    extern "C" __global__ void NAME##_##S(const int* index, const T* tiles, int tilePositions, const T* map, i64 plane, \
        const int* index2, const T* tiles2, int tilePositions2, const T* map2, i64 plane2, const T* vector,          \
        int positions, T* out, int channels, const float* scale, const float* shift, int act, float slope, int per) { \
        gather<T, MODE>(index, tiles, tilePositions, map, plane, index2, tiles2, tilePositions2, map2, plane2,       \
                        vector, positions, out, channels, scale, shift, act, slope, per); }

#define INSTANTIATE(T, S)                                                                                            \
    extern "C" __global__ void sum_slices_##S(const float* partial, T* y, const float* bias, int rows, int cols,     \
        int slices) { sum_slices<T>(partial, y, bias, rows, cols, slices); }                                         \
    extern "C" __global__ void channel_affine_##S(const T* x, T* y, const float* scale, const float* shift,           \
        int channels, int plane, int rows, int act, float slope) {                                                   \
        channel_affine<T>(x, y, scale, shift, channels, plane, rows, act, slope); }                                 \
    extern "C" __global__ void spade_##S(const T* x, const T* gb, T* y, const float* scale, const float* shift,      \
        int channels, int plane, int rows, int act, float slope) {                                                   \
        spade<T>(x, gb, y, scale, shift, channels, plane, rows, act, slope); }                                       \
    extern "C" __global__ void add_##S(const T* a, const T* b, T* y, int plane, int perChannel, int rows,            \
        int act, float slope) { add<T>(a, b, y, plane, perChannel, rows, act, slope); }                              \
    extern "C" __global__ void group_norm_small_##S(const T* x, T* y, const float* weight, const float* bias,         \
        float* scale, float* shift, int channels, int groups, i64 plane, float eps, int act, float slope) {          \
        group_norm_small<T>(x, y, weight, bias, scale, shift, channels, groups, plane, eps, act, slope); }           \
    extern "C" __global__ void group_norm_partial_##S(const T* x, double* partial, int channels, int groups,         \
        i64 plane, int chunks) { group_norm_partial<T>(x, partial, channels, groups, plane, chunks); }               \
    extern "C" __global__ void resize_nearest_##S(const T* x, T* y, const int* rowIndex, const int* colIndex,        \
        int inH, int inW, int outH, int outW, int rows) {                                                            \
        resize_nearest<T>(x, y, rowIndex, colIndex, inH, inW, outH, outW, rows); }                                   \
    extern "C" __global__ void copy_channels_##S(const T* src, T* dst, int srcC, int srcStart, int dstC,             \
        int dstStart, int count, int plane, int rows) {                                                              \
        copy_channels<T>(src, dst, srcC, srcStart, dstC, dstStart, count, plane, rows); }                            \
    extern "C" __global__ void concat2_##S(const T* a, int ca, const T* b, int cb, T* out, int outC, int start,      \
        int plane, int rows) { concat2<T>(a, ca, b, cb, out, outC, start, plane, rows); }                            \
    extern "C" __global__ void pad_##S(const T* x, T* y, int h, int w, int top, int left, int outH, int outW,        \
        int rows) { pad<T>(x, y, h, w, top, left, outH, outW, rows); }                                               \
    extern "C" __global__ void softmax_rows_##S(T* a, int cols) { softmax_rows<T>(a, cols); }                       \
    extern "C" __global__ void timestep_embedding_##S(const T* t, T* out, int dim, int rows) {                      \
        timestep_embedding<T>(t, out, dim, rows); }                                                                  \
    GATHER_KERNEL(T, S, gather, GATHER_PLAIN)                                                                        \
    GATHER_KERNEL(T, S, gather_add, GATHER_ADD)                                                                      \
    GATHER_KERNEL(T, S, gather_spade, GATHER_SPADE)                                                                  \
    extern "C" __global__ void scatter_##S(const T* tiles, T* dst, const int* origins, int count, int h, int w,      \
        int th, int tw, int channels) { scatter<T>(tiles, dst, origins, count, h, w, th, tw, channels); }            \
    extern "C" __global__ void restore_##S(const T* src, T* dst, const int* origins, int count, int h, int w,        \
        int th, int tw, int channels) { restore<T>(src, dst, origins, count, h, w, th, tw, channels); }              \
    extern "C" __global__ void zero_padding_##S(T* tiles, const int* origins, int count, int h, int w, int th,       \
        int tw, int channels) { zero_padding<T>(tiles, origins, count, h, w, th, tw, channels); }                    \
    extern "C" __global__ void map_im2col_##S(const T* x, T* cols, int h, int w, int kh, int kw, int stride,         \
        int top, int left, int ow, int y0, int outRows, int rows, T* out, int ldo, const float* bias, int couts,      \
        const T* addend, int perChannel, int span) {                                                                 \
        map_im2col<T>(x, cols, h, w, kh, kw, stride, top, left, ow, y0, outRows, rows, out, ldo, bias, couts,        \
                      addend, perChannel, span); }                                                                   \
    extern "C" __global__ void tile_im2col_##S(const T* tiles, T* cols, int count, int th, int tw, int kh, int kw,   \
        int stride, int oh, int ow, int rows, T* out, int ldo, const float* bias, int couts, int span) {             \
        tile_im2col<T>(tiles, cols, count, th, tw, kh, kw, stride, oh, ow, rows, out, ldo, bias, couts, span); }     \
    extern "C" __global__ void __launch_bounds__(NARROW_THREADS) conv_narrow_##S(const T* x, const T* weight, const float* bias, \
        T* out, int cin, int cout, int h, int w, int oh, int ow, int top, int left, int act, float slope) {          \
        conv_narrow<T>(x, weight, bias, out, cin, cout, h, w, oh, ow, top, left, act, slope); }

INSTANTIATE(float, f32)
INSTANTIATE(__half, f16)
