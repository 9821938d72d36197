package dev.tessera.vulkan;

import java.util.Locale;

/**
 * The compute shaders in src/main/glsl, shipped as SPIR-V resources: each reads and writes storage
 * buffers at bindings 0 to {@code buffers - 1} and takes push constants that start with one byte
 * offset per buffer (see common.glsl). Most exist twice, for maps stored as float32 and as float16.
 */
public enum Kernel {
    CHANNEL_AFFINE(4), SPADE(5), ADD(3), GROUP_NORM_STATS(5), RESIZE_NEAREST(4), COPY_CHANNELS(2), SOFTMAX_ROWS(1),
    TIMESTEP_EMBEDDING(3), GATHER(10), SCATTER(3), RESTORE(3), ZERO_PADDING(2), CONV2D(4), MATMUL(4),
    /** float32 to float16 maps: one variant. */
    TO_HALF(2),
    /** float16 to float32 maps: one variant. */
    TO_FLOAT(2);

    /** Invocations in a workgroup of every kernel (local_size_x in the shaders). */
    public static final int WORKGROUP_SIZE = 256;

    /** Storage buffers the kernel binds. */
    public final int buffers;

    Kernel(int buffers) {
        this.buffers = buffers;
    }

    /**
     * Output blocks of the conv2d and matmul workgroups, set through their specialization constants
     * (THREADS_M, ROWS, COLS in gemm.glsl): taller blocks reuse each staged column more, shorter
     * ones waste less on products with few rows (convolutions with few output channels).
     */
    public enum GemmShape {
        ROWS_32(8, 4, 4), ROWS_64(16, 4, 8), ROWS_128(16, 8, 8);

        private final int threadsM, rows, cols;

        GemmShape(int threadsM, int rows, int cols) {
            this.threadsM = threadsM;
            this.rows = rows;
            this.cols = cols;
        }

        /** The smallest block as tall as {@code m} rows, or the tallest. */
        public static GemmShape forRows(long m) {
            return m <= 32 ? ROWS_32 : m <= 64 ? ROWS_64 : ROWS_128;
        }

        public int blockRows() {
            return threadsM * rows;
        }

        public int blockColumns() {
            return WORKGROUP_SIZE / threadsM * cols;
        }

        /** Shared memory a workgroup uses: the staged chunks of A and B in gemm.glsl, TILE_K rows of vec4s padded by one. */
        public int sharedMemoryBytes() {
            int tileK = 16, vec4Bytes = 16;
            return tileK * (blockRows() / 4 + 1 + blockColumns() / 4 + 1) * vec4Bytes;
        }

        /** Values of the specialization constants 0, 1, 2. */
        public int[] specialization() {
            return new int[] {threadsM, rows, cols};
        }
    }

    /** Whether the kernel has a float16-storage variant distinct from its float32 one. */
    public boolean hasVariants() {
        return this != TO_HALF && this != TO_FLOAT;
    }

    /** Class-path resource of the kernel's SPIR-V for maps stored as float16 ({@code half}) or float32. */
    public String spirvResource(boolean half) {
        String base = "/dev/tessera/vulkan/shaders/" + name().toLowerCase(Locale.ROOT);
        return hasVariants() ? base + (half ? "_f16.spv" : "_f32.spv") : base + ".spv";
    }
}
