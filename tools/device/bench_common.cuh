// What the GPU machine's benchmarks share: cuBLAS declared by hand (the machine may have its
// library without the header), CHECK, a GPU time per enqueued call from CUDA graph replays, and
// random float16 device arrays. Included by conv_bench.cu and gemm_tune.cu.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cstdio>
#include <cstdlib>
#include <vector>

typedef struct cublasContext* cublasHandle_t;
extern "C" int cublasCreate_v2(cublasHandle_t*);
extern "C" int cublasSetStream_v2(cublasHandle_t, cudaStream_t);
extern "C" int cublasGemmEx(cublasHandle_t, int transa, int transb, int m, int n, int k, const void* alpha, const void* a,
                            cudaDataType aType, int lda, const void* b, cudaDataType bType, int ldb, const void* beta, void* c,
                            cudaDataType cType, int ldc, int computeType, int algo);
const int CUBLAS_OP_N = 0, CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;

#define CHECK(x) do { auto e = (x); if (e != 0) { printf("%s failed: %d at line %d\n", #x, (int) e, __LINE__); exit(1); } } while (0)

template <typename F> static float micros(cudaStream_t stream, F enqueue) {
    const int reps = 20, replays = 10;
    cudaGraph_t graph;
    cudaGraphExec_t exec;
    CHECK(cudaStreamBeginCapture(stream, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < reps; i++) enqueue();
    CHECK(cudaStreamEndCapture(stream, &graph));
    CHECK(cudaGraphInstantiate(&exec, graph, 0));
    cudaEvent_t a, b;
    cudaEventCreate(&a);
    cudaEventCreate(&b);
    for (int i = 0; i < 3; i++) CHECK(cudaGraphLaunch(exec, stream));
    float best = 1e9f;
    for (int i = 0; i < replays; i++) {
        cudaEventRecord(a, stream);
        CHECK(cudaGraphLaunch(exec, stream));
        cudaEventRecord(b, stream);
        cudaEventSynchronize(b);
        float ms;
        cudaEventElapsedTime(&ms, a, b);
        if (ms < best) best = ms;
    }
    cudaGraphExecDestroy(exec);
    cudaGraphDestroy(graph);
    return best * 1000 / reps;
}

static __half* randomHalves(size_t n) {
    std::vector<__half> host(n);
    for (auto& v : host) v = __float2half((rand() % 512 - 256) / 1024.f);
    __half* d;
    CHECK(cudaMalloc(&d, n * 2));
    CHECK(cudaMemcpy(d, host.data(), n * 2, cudaMemcpyHostToDevice));
    return d;
}
