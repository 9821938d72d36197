// Host time of the cuBLAS calls of a new edit's first pass, whose tile convs' products change M
// (the tile count) with every stroke: cublasGemmEx for one repeated shape, for a new M each call, and
// for those Ms again; cublasLtMatmul with one heuristic's algorithm reused for every M (Ms that are
// multiples of 8, as the algorithm's alignment needs), and with a heuristic per call. On the GPU machine:
//   nvcc -O3 -arch=sm_90 -o /tmp/gemm_host tools/device/gemm_host.cu $(ls /usr/lib/x86_64-linux-gnu/libcublas.so* \
//     /usr/local/cuda/lib64/libcublas.so* 2>/dev/null | head -1) $(ls /usr/lib/x86_64-linux-gnu/libcublasLt.so* \
//     /usr/local/cuda/lib64/libcublasLt.so* 2>/dev/null | head -1) && /tmp/gemm_host
#include "bench_common.cuh"
#include <chrono>

using Clock = std::chrono::steady_clock;
static double micros(Clock::time_point a, Clock::time_point b) { return std::chrono::duration<double, std::micro>(b - a).count(); }

int main() {
    const int cout = 128, k = 2304, maxP = 8192, calls = 200; // GauGAN up_2 conv_0's product; P = tile positions
    __half *w = randomHalves((size_t) cout * k), *cols = randomHalves((size_t) k * maxP), *out = randomHalves((size_t) cout * maxP);
    cudaStream_t stream;
    CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    cublasHandle_t blas;
    CHECK(cublasCreate_v2(&blas));
    CHECK(cublasSetStream_v2(blas, stream));
    float one = 1, zero = 0;
    auto gemm = [&](int p) { // out[Cout, P] = W[Cout, K] x cols[K, P], column-major as CudaExecutor calls it
        CHECK(cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, p, cout, k, &one, cols, CUDA_R_16F, p, w, CUDA_R_16F, k, &zero, out,
                           CUDA_R_16F, p, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    };
    gemm(1000);
    CHECK(cudaStreamSynchronize(stream));
    for (int round = 0; round < 2; round++) {
        int base = 300 + 3000 * round;
        auto t0 = Clock::now();
        for (int i = 0; i < calls; i++) gemm(1000);
        auto t1 = Clock::now();
        CHECK(cudaStreamSynchronize(stream));
        auto t2 = Clock::now();
        for (int i = 0; i < calls; i++) gemm(base + 8 * i);
        auto t3 = Clock::now();
        CHECK(cudaStreamSynchronize(stream));
        auto t4 = Clock::now();
        for (int i = 0; i < calls; i++) gemm(base + 8 * i);
        auto t5 = Clock::now();
        CHECK(cudaStreamSynchronize(stream));
        printf("cublasGemmEx, host us a call: one shape %.1f, a new P each call %.1f, the same Ps again %.1f\n",
               micros(t0, t1) / calls, micros(t2, t3) / calls, micros(t4, t5) / calls);
    }
    cublasLtHandle_t lt;
    CHECK(cublasLtCreate(&lt));
    cublasLtMatmulDesc_t desc;
    CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    cublasLtMatrixLayout_t la, lb, lc;
    CHECK(cublasLtMatrixLayoutCreate(&la, CUDA_R_16F, 1000, k, 1000));
    CHECK(cublasLtMatrixLayoutCreate(&lb, CUDA_R_16F, k, cout, k));
    CHECK(cublasLtMatrixLayoutCreate(&lc, CUDA_R_16F, 1000, cout, 1000));
    size_t workspaceBytes = 32 << 20;
    void* workspace;
    cublasLtMatmulPreference_t pref = ltPreference(workspaceBytes, &workspace);
    cublasLtMatmulHeuristicResult_t result;
    int returned = 0;
    auto h0 = Clock::now();
    CHECK(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 1, &result, &returned));
    auto h1 = Clock::now();
    printf("cuBLASLt heuristic for P = 1000: %.1f us\n", micros(h0, h1));
    auto resize = [&](uint64_t p) {
        int64_t ld = p;
        CHECK(cublasLtMatrixLayoutSetAttribute(la, LAYOUT_ROWS, &p, sizeof(p)));
        CHECK(cublasLtMatrixLayoutSetAttribute(la, LAYOUT_LD, &ld, sizeof(ld)));
        CHECK(cublasLtMatrixLayoutSetAttribute(lc, LAYOUT_ROWS, &p, sizeof(p)));
        CHECK(cublasLtMatrixLayoutSetAttribute(lc, LAYOUT_LD, &ld, sizeof(ld)));
    };
    for (int round = 0; round < 2; round++) {
        auto t0 = Clock::now();
        for (int i = 0; i < calls; i++) {
            resize(304 + 3000 * round + 8 * i);
            CHECK(cublasLtMatmul(lt, desc, &one, cols, la, w, lb, &zero, out, lc, out, lc, &result.algo, workspace, workspaceBytes, stream));
        }
        auto t1 = Clock::now();
        CHECK(cudaStreamSynchronize(stream));
        auto t2 = Clock::now();
        for (int i = 0; i < calls; i++) {
            resize(312 + 3000 * round + 8 * i);
            cublasLtMatmulHeuristicResult_t own;
            CHECK(cublasLtMatmulAlgoGetHeuristic(lt, desc, la, lb, lc, lc, pref, 1, &own, &returned));
            CHECK(cublasLtMatmul(lt, desc, &one, cols, la, w, lb, &zero, out, lc, out, lc, &own.algo, workspace, workspaceBytes, stream));
        }
        auto t3 = Clock::now();
        CHECK(cudaStreamSynchronize(stream));
        printf("cublasLtMatmul, host us a call for a new P each call: one algorithm %.1f, a heuristic each call %.1f\n",
               micros(t0, t1) / calls, micros(t2, t3) / calls);
    }
}
