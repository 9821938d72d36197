// GPU time of the float16 products of the GEMM conv way (out[Cout, P] = W[Cout, K] x cols[K, P],
// float32 accumulation, beta 1 as when im2col wrote the bias into out) on shapes of GauGAN's and
// DDPM's passes: cublasGemmEx's default algorithm against every algorithm cuBLASLt's heuristic
// offers for the shape (up to 64, 32 MiB workspace), and against those algorithms with K split
// 1-32 ways (each reduction scheme), each captured 20 times in a CUDA graph and replayed. Tells whether choosing cuBLASLt algorithms by timing is worth having. On the GPU machine
// (cuBLAS and cuBLASLt are declared by hand, as the machine may have the libraries without headers):
//   nvcc -O3 -arch=sm_90 -o /tmp/gemm_tune tools/device/gemm_tune.cu $(ls /usr/lib/x86_64-linux-gnu/libcublas.so* \
//     /usr/local/cuda/lib64/libcublas.so* 2>/dev/null | head -1) $(ls /usr/lib/x86_64-linux-gnu/libcublasLt.so* \
//     /usr/local/cuda/lib64/libcublasLt.so* 2>/dev/null | head -1) && /tmp/gemm_tune
#include "bench_common.cuh"

// A product as the conv way runs it: Cout rows, P columns (tile positions or map pixels), K = Cin * kh * kw.
struct Product { const char* name; int cout, p, k; };

int main() {
    Product products[] = {
        {"gaugan G_middle conv, 8 tiles", 1024, 128, 9216},
        {"gaugan G_middle gamma_beta, 8 tiles", 2048, 128, 1152},
        {"gaugan up_0 conv_0, 15 tiles", 512, 240, 9216},
        {"gaugan G_middle full 32x16", 1024, 512, 9216},
        {"gaugan up_2 conv_0, 64 tiles", 128, 1024, 2304},
        {"gaugan up_3 gamma_beta, 176 tiles", 256, 2816, 1152},
        {"ddpm 512ch 8x8 map", 512, 64, 4608},
        {"ddpm 512ch 16x16 map", 512, 256, 4608},
        {"ddpm up.4 conv1 1024ch 16x16", 512, 256, 9216},
        {"ddpm 256ch 32x32 map", 256, 1024, 2304},
        {"ddpm up.3 conv1 768ch 32x32", 256, 1024, 6912},
        {"ddpm 86 tiles 128ch", 128, 1376, 1152},
        {"ddpm 15 tiles 256ch", 256, 240, 2304},
        {"ddpm 1x1 shortcut 1024->512 16x16", 512, 256, 1024},
    };
    cudaStream_t stream;
    CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    cublasHandle_t blas;
    CHECK(cublasCreate_v2(&blas));
    CHECK(cublasSetStream_v2(blas, stream));
    cublasLtHandle_t lt;
    CHECK(cublasLtCreate(&lt));
    size_t workspaceBytes = 32 << 20;
    void* workspace;
    cublasLtMatmulPreference_t pref = ltPreference(workspaceBytes, &workspace);
    float one = 1.f;
    printf("%-40s %10s %10s %10s %5s %6s %10s %s\n", "product (Cout x P x K)", "GemmEx us", "Lt top1", "Lt best", "of", "gain",
           "split best", "(algo, split, scheme)");
    for (const Product& q : products) {
        __half* w = randomHalves((size_t) q.cout * q.k);
        __half* cols = randomHalves((size_t) q.k * q.p);
        __half* out = randomHalves((size_t) q.cout * q.p);
        // Column-major: out^T [P, Cout] = cols^T [P, K] x W^T [K, Cout].
        float gemmEx = micros(stream, [&] {
            cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, q.p, q.cout, q.k, &one, cols, CUDA_R_16F, q.p, w, CUDA_R_16F, q.k, &one, out,
                         CUDA_R_16F, q.p, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
        });
        cublasLtMatmulDesc_t desc;
        CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
        cublasLtMatrixLayout_t a, b, c;
        CHECK(cublasLtMatrixLayoutCreate(&a, CUDA_R_16F, q.p, q.k, q.p));
        CHECK(cublasLtMatrixLayoutCreate(&b, CUDA_R_16F, q.k, q.cout, q.k));
        CHECK(cublasLtMatrixLayoutCreate(&c, CUDA_R_16F, q.p, q.cout, q.p));
        cublasLtMatmulHeuristicResult_t results[64];
        int returned = 0;
        CHECK(cublasLtMatmulAlgoGetHeuristic(lt, desc, a, b, c, c, pref, 64, results, &returned));
        float top1 = 0, best = 1e9f;
        for (int i = 0; i < returned; i++) {
            if (results[i].state != 0) continue;
            float us = micros(stream, [&] {
                cublasLtMatmul(lt, desc, &one, cols, a, w, b, &one, out, c, out, c, &results[i].algo, workspace, workspaceBytes, stream);
            });
            if (i == 0) top1 = us;
            if (us < best) best = us;
        }
        float splitBest = 1e9f;
        int bestAlgo = -1, bestSplit = 0, bestScheme = 0;
        for (int i = 0; i < returned; i++) {
            if (results[i].state != 0) continue;
            for (unsigned split : {1u, 2u, 4u, 8u, 16u, 32u}) {
                for (unsigned scheme : {1u, 2u, 4u}) {
                    if (split == 1 && scheme != 1) continue;
                    cublasLtMatmulAlgo_t algo = results[i].algo;
                    unsigned none = 0;
                    if (cublasLtMatmulAlgoConfigSetAttribute(&algo, ALGO_CONFIG_SPLITK_NUM, &split, sizeof(split)) != 0) continue;
                    if (cublasLtMatmulAlgoConfigSetAttribute(&algo, ALGO_CONFIG_REDUCTION_SCHEME, split == 1 ? &none : &scheme,
                                                             sizeof(scheme)) != 0) continue;
                    cublasLtMatmulHeuristicResult_t checked;
                    if (cublasLtMatmulAlgoCheck(lt, desc, a, b, c, c, &algo, &checked) != 0 || checked.workspaceSize > workspaceBytes) continue;
                    float us = micros(stream, [&] {
                        cublasLtMatmul(lt, desc, &one, cols, a, w, b, &one, out, c, out, c, &algo, workspace, workspaceBytes, stream);
                    });
                    if (us < splitBest) { splitBest = us; bestAlgo = i; bestSplit = split; bestScheme = split == 1 ? 0 : scheme; }
                }
            }
        }
        printf("%-40s %10.1f %10.1f %10.1f %5d %5.2fx %10.1f (%d, %d, %d)   (%d x %d x %d)\n", q.name, gemmEx, top1, best, returned,
               gemmEx / best, splitBest, bestAlgo, bestSplit, bestScheme, q.cout, q.p, q.k);
        cudaFree(w);
        cudaFree(cols);
        cudaFree(out);
    }
    return 0;
}
