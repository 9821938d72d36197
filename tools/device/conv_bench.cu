// GPU time of one float16 convolution two ways, on shapes of GauGAN's and DDPM's sparse passes:
// im2col (writing the bias into the output) + cuBLAS (CudaExecutor's GEMM way; "+bias": the bias a
// launch of its own after the product instead) against conv_igemm_f16 at several K slicings,
// and the largest difference between the two. Each is captured 20 times in a CUDA graph and the
// graph replayed, so launch costs are those of a replayed pass. On the GPU machine (cuBLAS is
// declared in bench_common.cuh, as the machine may have its library without the header):
//   nvcc -O3 -arch=sm_90 -o /tmp/conv_bench tools/device/conv_bench.cu $(ls /usr/lib/x86_64-linux-gnu/libcublas.so* \
//     /usr/local/cuda/lib64/libcublas.so* 2>/dev/null | head -1) && /tmp/conv_bench
#include "../../backend-cuda/src/main/cuda/tessera_kernels.cu"
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench_common.cuh"

struct Case { const char* name; int count, cin, h, w, cout, k, stride, pad; };

static int oh(const Case& c) { return (c.h + 2 * c.pad - c.k) / c.stride + 1; }
static int ow(const Case& c) { return (c.w + 2 * c.pad - c.k) / c.stride + 1; }

/** Whether name contains one of the '|'-separated parts of pattern. */
static bool matches(const char* pattern, const char* name) {
    std::string p(pattern);
    for (size_t at = 0; at <= p.size();) {
        size_t end = p.find('|', at);
        if (end == std::string::npos) end = p.size();
        if (strstr(name, p.substr(at, end - at).c_str())) return true;
        at = end + 1;
    }
    return false;
}

int main() {
    Case cases[] = {
        {"gaugan G_middle conv, 8 tiles", 8, 1024, 6, 6, 1024, 3, 1, 0},
        {"gaugan G_middle gamma_beta, 8 tiles", 8, 128, 6, 6, 2048, 3, 1, 0},
        {"gaugan mlp_shared, 8 tiles", 8, 36, 6, 6, 128, 3, 1, 0},
        {"gaugan up_0 conv_0, 15 tiles", 15, 1024, 6, 6, 512, 3, 1, 0},
        {"gaugan up_2 conv_0, 64 tiles", 64, 256, 6, 6, 128, 3, 1, 0},
        {"gaugan up_3 gamma_beta, 176 tiles", 176, 128, 6, 6, 256, 3, 1, 0},
        {"gaugan up_3 conv_s 1x1, 156 tiles", 156, 128, 4, 4, 64, 1, 1, 0},
        {"ddpm 512ch 8x8 map", 1, 512, 8, 8, 512, 3, 1, 1},
        {"ddpm 512ch 16x16 map", 1, 512, 16, 16, 512, 3, 1, 1},
        {"ddpm 256ch 32x32 map", 1, 256, 32, 32, 256, 3, 1, 1},
        {"ddpm 256ch 64x64 map", 1, 256, 64, 64, 256, 3, 1, 1},
        {"ddpm 128ch 128x128 map", 1, 128, 128, 128, 128, 3, 1, 1},
        {"ddpm 512ch 16x16 downsample s2", 1, 512, 17, 17, 512, 3, 2, 0},
        {"ddpm 86 tiles 128ch", 86, 128, 6, 6, 128, 3, 1, 0},
        {"ddpm 15 tiles 256ch", 15, 256, 6, 6, 256, 3, 1, 0},
    };
    int device = 0, sms;
    cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device);
    cudaStream_t stream;
    CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
    cublasHandle_t blas;
    CHECK(cublasCreate_v2(&blas));
    CHECK(cublasSetStream_v2(blas, stream));
    int* arrivals;
    CHECK(cudaMalloc(&arrivals, 1 << 16));
    CHECK(cudaMemset(arrivals, 0, 1 << 16));
    printf("%-36s %8s %8s %8s | implicit GEMM by K slices (us)\n", "case", "+bias us", "GEMM us", "MMACs");
    const char* only = getenv("CASES"); // substrings of case names, e.g. "G_middle conv|128x128"
    for (const Case& c : cases) {
        if (only && !matches(only, c.name)) continue;
        int K = c.cin * c.k * c.k, P = c.count * oh(c) * ow(c);
        __half *x = randomHalves((size_t) c.cin * c.count * c.h * c.w), *wt = randomHalves((size_t) c.cout * K);
        __half *cols, *ref, *out;
        float *bias, *partial;
        CHECK(cudaMalloc(&cols, (size_t) K * P * 2));
        CHECK(cudaMalloc(&ref, (size_t) c.cout * P * 2));
        CHECK(cudaMalloc(&out, (size_t) c.cout * P * 2));
        CHECK(cudaMalloc(&bias, c.cout * 4));
        CHECK(cudaMemset(bias, 0, c.cout * 4));
        CHECK(cudaMalloc(&partial, (size_t) 64 * c.cout * P * 4));
        float one = 1, zero = 0;
        // the im2col grid as CudaExecutor.launchIm2col makes it
        int span = std::min(256, (P + 31) / 32 * 32), per = 256 / span;
        dim3 grid2d((P + span - 1) / span, std::min(65535, ((K + IM2COL_ROWS - 1) / IM2COL_ROWS + per - 1) / per));
        // fused: the im2col kernel writes the bias into the output and cuBLAS adds its product to it
        // (beta = 1), as CudaExecutor does; otherwise the bias is a launch of its own after the product.
        auto gemmWay = [&](bool fused) {
            const float* b = fused ? bias : nullptr;
            if (c.pad == 0 && c.count > 1) tile_im2col_f16<<<grid2d, 256, 0, stream>>>(x, cols, c.count, c.h, c.w, c.k, c.k, c.stride, oh(c), ow(c), K, ref, P, b, c.cout, span);
            else map_im2col_f16<<<grid2d, 256, 0, stream>>>(x, cols, c.h, c.w, c.k, c.k, c.stride, c.pad, c.pad, ow(c), 0, oh(c), K, ref, P, b, c.cout, nullptr, 0, span);
            cublasGemmEx(blas, CUBLAS_OP_N, CUBLAS_OP_N, P, c.cout, K, &one, cols, CUDA_R_16F, P, wt, CUDA_R_16F, K, fused ? &one : &zero, ref,
                         CUDA_R_16F, P, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT);
            if (!fused) channel_affine_f16<<<dim3((P + 255) / 256, c.cout), 256, 0, stream>>>(ref, ref, nullptr, bias, c.cout, P, c.cout, 0, 0.f);
        };
        float separateUs = micros(stream, [&] { gemmWay(false); }), gemmUs = micros(stream, [&] { gemmWay(true); });
        printf("%-36s %8.1f %8.1f %8.1f |", c.name, separateUs, gemmUs, (double) c.cout * P * K / 1e6);
        int steps = (K + 31) / 32, blocks = ((P + 63) / 64) * ((c.cout + 127) / 128);
        for (int slices : {1, 2, 4, 8, 16, 32}) {
            if (slices > 1 && steps / slices < 2) break;
            int per = (steps + slices - 1) / slices * 32, real = (K + per - 1) / per;
            auto implicitWay = [&] {
                conv_igemm_f16<<<dim3((P + 63) / 64, (c.cout + 127) / 128, real), 256, 0, stream>>>(
                    x, wt, bias, out, partial, arrivals, c.count, c.h, c.w, c.cin, c.cout, c.k, c.k, c.stride, c.pad, c.pad, oh(c),
                    ow(c), per, 0, 0.f);
            };
            float us = micros(stream, implicitWay);
            // Compare with the GEMM way's output.
            std::vector<__half> a((size_t) c.cout * P), b(a.size());
            CHECK(cudaStreamSynchronize(stream));
            CHECK(cudaMemcpy(a.data(), ref, a.size() * 2, cudaMemcpyDeviceToHost));
            CHECK(cudaMemcpy(b.data(), out, b.size() * 2, cudaMemcpyDeviceToHost));
            float err = 0, mx = 0;
            for (size_t i = 0; i < a.size(); i++) {
                err = fmaxf(err, fabsf(__half2float(a[i]) - __half2float(b[i])));
                mx = fmaxf(mx, fabsf(__half2float(a[i])));
            }
            printf(" %d:%.1f%s", real, us, err > 2e-3f * fmaxf(1.f, mx) ? "(WRONG)" : "");
        }
        printf("   (%d blocks, %d SMs)\n", blocks, sms);
        cudaFree(x); cudaFree(wt); cudaFree(cols); cudaFree(ref); cudaFree(out); cudaFree(bias); cudaFree(partial);
    }
    return 0;
}
