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
    /**
     * GEMMs below this many multiply-accumulates, or with fewer columns than {@link #SINGLE_THREAD_COLUMNS},
     * run on one thread: measured on 2 cores, OpenBLAS's thread hand-off costs more than it saves
     * there (64x1600x576: 55 GFLOP/s on one thread, 5 on two; 1024x128x9216: 57 vs 54), and sparse
     * passes and low-resolution layers are made of such GEMMs.
     */
    static final long SINGLE_THREAD_MACS = 1L << 30;
    static final int SINGLE_THREAD_COLUMNS = 512;

    private static volatile int threads = Runtime.getRuntime().availableProcessors();
    private static int current = -1;

    private Blas() {}

    public static void sgemm(boolean transA, boolean transB, int m, int n, int k, float alpha,
            FloatBuffer a, int aOffset, int lda, FloatBuffer b, int bOffset, int ldb,
            float beta, FloatBuffer c, int cOffset, int ldc) {
        int want = (long) m * n * k < SINGLE_THREAD_MACS || n < SINGLE_THREAD_COLUMNS ? 1 : threads;
        if (want != current) { // a process-wide OpenBLAS setting: concurrent callers may see the other's choice
            openblas.blas_set_num_threads(want);
            current = want;
        }
        openblas.cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                m, n, k, alpha, at(a, aOffset), lda, at(b, bOffset), ldb, beta, at(c, cOffset), ldc);
    }

    /** A view starting at {@code offset} (JavaCPP passes a direct buffer's address plus its position). */
    private static FloatBuffer at(FloatBuffer buffer, int offset) {
        return offset == 0 ? buffer : Tensor.range(buffer, offset, buffer.capacity());
    }

    /** Threads for large GEMMs (default: all cores). */
    public static void setThreads(int n) {
        threads = n;
    }

    public static int threads() {
        return threads;
    }
}
