// What the GPU machine's benchmarks share: cuBLAS and cuBLASLt declared by hand (the machine may have its
// library without the header), CHECK, a GPU time per enqueued call from CUDA graph replays, and
// random float16 device arrays. Included by conv_bench.cu, gemm_tune.cu and gemm_host.cu.
#pragma once
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <vector>

typedef struct cublasContext* cublasHandle_t;
extern "C" int cublasCreate_v2(cublasHandle_t*);
extern "C" int cublasSetStream_v2(cublasHandle_t, cudaStream_t);
extern "C" int cublasGemmEx(cublasHandle_t, int transa, int transb, int m, int n, int k, const void* alpha, const void* a,
                            cudaDataType aType, int lda, const void* b, cudaDataType bType, int ldb, const void* beta, void* c,
                            cudaDataType cType, int ldc, int computeType, int algo);
const int CUBLAS_OP_N = 0, CUBLAS_COMPUTE_32F = 68, CUBLAS_GEMM_DEFAULT = -1;

// cuBLASLt, declared by hand like cuBLAS above (gemm_tune.cu, gemm_host.cu).
typedef struct cublasLtContext* cublasLtHandle_t;
typedef struct cublasLtMatmulDescOpaque_t* cublasLtMatmulDesc_t;
typedef struct cublasLtMatrixLayoutOpaque_t* cublasLtMatrixLayout_t;
typedef struct cublasLtMatmulPreferenceOpaque_t* cublasLtMatmulPreference_t;
typedef struct { uint64_t data[8]; } cublasLtMatmulAlgo_t;
typedef struct { cublasLtMatmulAlgo_t algo; size_t workspaceSize; int state; float wavesCount; int reserved[4]; } cublasLtMatmulHeuristicResult_t;
extern "C" int cublasLtCreate(cublasLtHandle_t*);
extern "C" int cublasLtMatmulDescCreate(cublasLtMatmulDesc_t*, int computeType, int scaleType);
extern "C" int cublasLtMatrixLayoutCreate(cublasLtMatrixLayout_t*, int type, uint64_t rows, uint64_t cols, int64_t ld);
extern "C" int cublasLtMatmulPreferenceCreate(cublasLtMatmulPreference_t*);
extern "C" int cublasLtMatmulPreferenceSetAttribute(cublasLtMatmulPreference_t, int attr, const void* buf, size_t size);
extern "C" int cublasLtMatmulAlgoGetHeuristic(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                              cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, cublasLtMatmulPreference_t, int requested,
                                              cublasLtMatmulHeuristicResult_t* results, int* returned);
extern "C" int cublasLtMatmulAlgoConfigSetAttribute(cublasLtMatmulAlgo_t*, int attr, const void* buf, size_t size);
extern "C" int cublasLtMatmulAlgoCheck(cublasLtHandle_t, cublasLtMatmulDesc_t, cublasLtMatrixLayout_t, cublasLtMatrixLayout_t,
                                       cublasLtMatrixLayout_t, cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t*,
                                       cublasLtMatmulHeuristicResult_t*);
extern "C" int cublasLtMatmul(cublasLtHandle_t, cublasLtMatmulDesc_t, const void* alpha, const void* a, cublasLtMatrixLayout_t,
                              const void* b, cublasLtMatrixLayout_t, const void* beta, const void* c, cublasLtMatrixLayout_t, void* d,
                              cublasLtMatrixLayout_t, const cublasLtMatmulAlgo_t* algo, void* workspace, size_t workspaceBytes,
                              cudaStream_t);
extern "C" int cublasLtMatrixLayoutSetAttribute(cublasLtMatrixLayout_t, int attr, const void* buf, size_t size);
const int PREF_MAX_WORKSPACE_BYTES = 1, ALGO_CONFIG_SPLITK_NUM = 2, ALGO_CONFIG_REDUCTION_SCHEME = 3;
const int LAYOUT_ROWS = 2, LAYOUT_LD = 4;


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

// A cuBLASLt preference that allows a workspace of `bytes`, which it allocates into *workspace.
static cublasLtMatmulPreference_t ltPreference(size_t bytes, void** workspace) {
    CHECK(cudaMalloc(workspace, bytes));
    cublasLtMatmulPreference_t pref;
    CHECK(cublasLtMatmulPreferenceCreate(&pref));
    CHECK(cublasLtMatmulPreferenceSetAttribute(pref, PREF_MAX_WORKSPACE_BYTES, &bytes, sizeof(bytes)));
    return pref;
}
