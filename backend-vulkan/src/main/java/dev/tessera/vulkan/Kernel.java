package dev.tessera.vulkan;

import java.util.Locale;

/**
 * The compute shaders in src/main/glsl, shipped as SPIR-V resources: each reads and writes storage
 * buffers at bindings 0 to {@code buffers - 1} and takes push constants that start with one byte
 * offset per buffer (see common.glsl). Most exist twice, for maps stored as float32 and as float16.
 */
public enum Kernel {
    CHANNEL_AFFINE(4), SPADE(5), ADD(3), GROUP_NORM_STATS(5), RESIZE_NEAREST(4), COPY_CHANNELS(2), SOFTMAX_ROWS(1),
    TIMESTEP_EMBEDDING(3), GATHER(5), SCATTER(3), RESTORE(3), ZERO_PADDING(2), CONV2D(4), MATMUL(4),
    /** float32 to float16 maps: one variant. */
    TO_HALF(2),
    /** float16 to float32 maps: one variant. */
    TO_FLOAT(2);

    /** Invocations in a workgroup of every kernel (local_size_x in the shaders). */
    public static final int WORKGROUP_SIZE = 256;
    /** Output block of a conv2d or matmul workgroup, in rows and in columns (TILE in gemm.glsl). */
    public static final int GEMM_TILE = 64;

    /** Storage buffers the kernel binds. */
    public final int buffers;

    Kernel(int buffers) {
        this.buffers = buffers;
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
