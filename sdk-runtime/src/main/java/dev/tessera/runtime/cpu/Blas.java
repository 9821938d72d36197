package dev.tessera.runtime.cpu;

import static org.bytedeco.openblas.global.openblas.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas.CblasTrans;

import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import org.bytedeco.openblas.global.openblas;

/**
 * Row-major SGEMM on native float buffers through OpenBLAS: {@code C = alpha * op(A) op(B) + beta * C}.
 * Offsets are in floats from the start of each buffer; OpenBLAS reads the memory in place.
 */
public final class Blas {
    private static volatile int threads = Runtime.getRuntime().availableProcessors();

    private Blas() {}

    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
            FloatBuffer a, int aOffset, int lda, FloatBuffer b, int bOffset, int ldb,
            float beta, FloatBuffer c, int cOffset, int ldc) {
        openblas.cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, at(a, aOffset), lda, at(b, bOffset), ldb, beta, at(c, cOffset), ldc);
    }

    /** A view starting at {@code offset} (JavaCPP passes a direct buffer's address plus its position). */
    private static FloatBuffer at(FloatBuffer buffer, int offset) {
        return offset == 0 ? buffer : Tensor.range(buffer, offset, buffer.capacity());
    }

    /** OpenBLAS threads (a process-wide setting; default: all cores). */
    public static void setThreads(int n) {
        openblas.blas_set_num_threads(n);
        threads = n;
    }

    /**
     * Measured on 2 quiet cores, two threads beat one for every GEMM shape the models use, small
     * sparse-pass GEMMs included (64x1600x576: 87 vs 51 GFLOP/s); on a loaded machine they lose.
     */
    public static int threads() {
        return threads;
    }
}
