package dev.tessera.vulkan;

import java.util.Locale;

/**
 * The compute shaders in src/main/glsl, shipped as SPIR-V resources: each reads and writes storage
 * buffers at bindings 0 to {@code buffers - 1} and takes push constants that start with one byte
 * offset per buffer (see common.glsl). Most exist twice, for maps stored as float32 and as float16.
 */
public enum Kernel {
    CHANNEL_AFFINE(4, 1), SPADE(5, 2), ADD(3, 2), GROUP_NORM_PARTS(2, 1), GROUP_NORM_STATS(6, 3, 4), RESIZE_NEAREST(4, 1),
    COPY_CHANNELS(2, 1), SOFTMAX_ROWS(1, 0), TIMESTEP_EMBEDDING(3, 2), GATHER(10, 3), SCATTER(3, 1), RESTORE(3, 1), ZERO_PADDING(2, 0),
    CONV2D(5, 3, 4), SUM_SLICES(5, 3, 4), WINOGRAD_INPUT(2, 1), WINOGRAD_OUTPUT(3, 2),
    /** Winograd F(4x4, 3x3)'s transforms (F(2x2, 3x3)'s are WINOGRAD_INPUT and WINOGRAD_OUTPUT). */
    WINOGRAD4_INPUT(2, 1), WINOGRAD4_OUTPUT(3, 2),
    /** conv2d on tensor cores, for float16 maps where the device has them ({@link ComputeDevice#tensorCores}): one variant. */
    CONV2D_COOP(5, 3, 4),
    /**
     * Batched float16 matrix products on tensor cores through tensor-addressed workgroup
     * cooperative matrices, where the device has them ({@link ComputeDevice#tensorAddressing}): one variant.
     */
    GEMM_TENSOR(3, 2),
    /** float32 to float16 maps: one variant. */
    TO_HALF(2, 1),
    /** float16 to float32 maps: one variant. */
    TO_FLOAT(2, 1);

    /** Invocations in a workgroup of every kernel (local_size_x in the shaders; conv2d's smaller blocks take fewer, see GemmShape). */
    public static final int WORKGROUP_SIZE = 256;

    /** Storage buffers the kernel binds. */
    public final int buffers;
    /** Bit i: the kernel may write the buffer at binding i (it is not declared readonly). */
    private final int written;

    Kernel(int buffers, int... writtenBindings) {
        this.buffers = buffers;
        int mask = 0;
        for (int b : writtenBindings) mask |= 1 << b;
        this.written = mask;
    }

    /** Whether the kernel may write the buffer at {@code binding}, so that what runs beside it must not touch that buffer. */
    public boolean writes(int binding) {
        return (written & 1 << binding) != 0;
    }

    /**
     * Output blocks of the GEMM kernels. conv2d takes its own through specialization constants
     * (gemm.glsl: THREADS_M, ROWS, COLS, and the workgroup's invocations): taller blocks reuse each
     * staged column more, shorter ones waste less on products with few rows (convolutions with few
     * output channels).
     * conv2d_coop has one: on the H100, blocks of 128 x 128, 128 x 64, 64 x 64 and 256 x 32 (its 8
     * subgroups holding 2 to 8 matrices each) ran at 20-39 TFLOP/s, 128 x 32 (2 each) at 57-68.
     * gemm_tensor takes its block (BM, BN, BK, invocations) through specialization constants.
     */
    public enum GemmShape {
        ROWS_32(32, 128, 8, 4, 4, 256), ROWS_64(64, 128, 16, 4, 8, 256), ROWS_128(128, 128, 16, 8, 8, 256),
        /** For products of few columns (small maps, few tiles), which 128-column blocks would mostly waste. */
        COLUMNS_32(128, 32, 32, 4, 4, 256),
        /** Four times the blocks of ROWS_128 for a product: timed convs try it where few blocks would leave the GPU idle. */
        SQUARE_64(64, 64, 16, 4, 4, 256),
        /** For convs of at most 16 output channels (an RGB output), which taller blocks mostly waste: timed convs try it. */
        ROWS_16(16, 64, 4, 4, 4, 64),
        /** conv2d_coop's one block (its constants BLOCK_M, BLOCK_N). */
        COOP(128, 32),
        /**
         * gemm_tensor's blocks: one workgroup-scope matrix of 128 x 128 sums over 256 invocations, K
         * 32 at a time (64 ran slower on the H100).
         */
        TENSOR_128(128, 128, 128, 128, 32, 256),
        /** gemm_tensor in 64 x 64 blocks over 128 invocations: four times the workgroups for small products. */
        TENSOR_64(64, 64, 64, 64, 32, 128);

        private final int blockRows, blockColumns;
        private final int[] specialization;

        GemmShape(int blockRows, int blockColumns, int... specialization) {
            this.blockRows = blockRows;
            this.blockColumns = blockColumns;
            this.specialization = specialization;
        }

        /** conv2d's block for an [m, n] product: 32 columns wide for at most 64 columns, else the smallest as tall as m rows, or the tallest. */
        public static GemmShape forProduct(long m, long n) {
            if (n <= 64 && m > 32) return COLUMNS_32;
            return m <= 32 ? ROWS_32 : m <= 64 ? ROWS_64 : ROWS_128;
        }

        /** Depth of the K chunks its kernel stages (TILE_K, BK): 32 in conv2d_coop and gemm_tensor, 16 in conv2d. */
        public int tileK() {
            return kernel() == CONV2D ? 16 : 32;
        }

        /** The kernel that computes products in this shape's blocks: conv2d, conv2d_coop or gemm_tensor. */
        public Kernel kernel() {
            return this == COOP ? CONV2D_COOP : this == TENSOR_128 || this == TENSOR_64 ? GEMM_TENSOR : CONV2D;
        }

        /** Whether the shape is conv2d_coop's. */
        public boolean cooperative() {
            return this == COOP;
        }

        public int blockRows() {
            return blockRows;
        }

        public int blockColumns() {
            return blockColumns;
        }

        /**
         * Shared memory a workgroup uses. gemm.glsl: TILE_K (16) rows of vec4s of A's and B's
         * chunks, each padded by one vec4. conv2d_coop: TILE_K (32) halves of each row of A and
         * column of B, padded by 8, and 16 x 16 floats for each of 8 subgroups. gemm_tensor: none of
         * its own (the driver's staging is within the memory it reserves for such matrices).
         */
        public int sharedMemoryBytes() {
            if (kernel() == GEMM_TENSOR) return 0;
            if (cooperative()) return (blockRows + blockColumns) * (32 + 8) * 2 + 8 * 256 * 4;
            int tileK = 16, vec4Bytes = 16;
            return tileK * (blockRows / 4 + 1 + blockColumns / 4 + 1) * vec4Bytes;
        }

        /** Values of the specialization constants 0 to 3. */
        public int[] specialization() {
            return specialization.clone();
        }
    }

    /** Whether the kernel has a float16-storage variant distinct from its float32 one. */
    public boolean hasVariants() {
        return this != TO_HALF && this != TO_FLOAT && this != CONV2D_COOP && this != GEMM_TENSOR;
    }

    /** Class-path resource of the kernel's SPIR-V for maps stored as float16 ({@code half}) or float32. */
    public String spirvResource(boolean half) {
        String base = "/dev/tessera/vulkan/shaders/" + name().toLowerCase(Locale.ROOT);
        return hasVariants() ? base + (half ? "_f16.spv" : "_f32.spv") : base + ".spv";
    }
}
