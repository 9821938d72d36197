package dev.tessera.vulkan;

import dev.tessera.spi.DeviceInfo;

/**
 * The GPU calls the Vulkan backend makes, kept to an interface of our own so that the executor and
 * the SPIR-V kernels can run on another host than LWJGL (an Android app through the NDK and JNI,
 * which LWJGL does not support). Memory is addressed as in CUDA: an allocation is a 64-bit address,
 * a buffer inside it is that address plus a byte offset, and 0 means "no buffer".
 * Implementations are thread-safe; {@link #close} waits for running work and frees everything.
 */
public interface ComputeDevice extends AutoCloseable {
    /** What the device calls itself. */
    String name();

    /** Discrete or integrated GPU, or a software implementation (ranked below the CPU backend). */
    DeviceInfo.Kind kind();

    /** Device-local memory in bytes. */
    long memoryBytes();

    /** Whether the float16 kernel variants run here (the device stores 16-bit floats in storage buffers). */
    boolean float16();

    /**
     * Whether float16 convolutions run on tensor cores here (conv2d_coop: 16x16x16 float16
     * cooperative matrices with float32 sums, in subgroups of 32 invocations).
     */
    boolean tensorCores();

    /**
     * Whether gemm_tensor runs here: tensor cores ({@link #tensorCores}) through tensor-addressed
     * workgroup-scope cooperative matrices (VK_NV_cooperative_matrix2), in each of its block shapes
     * ({@link Kernel.GemmShape}).
     */
    boolean tensorAddressing();

    /**
     * The largest buffer one kernel binding may span (Vulkan's maxStorageBufferRange: 128 MiB on
     * lavapipe and on many phones): an executor picks ways whose scratch buffers fit in it.
     */
    long maxBufferBytes();

    /**
     * Device memory of {@code bytes} that lives until {@link #free}.
     *
     * @throws dev.tessera.DeviceException when the device is out of memory or the buffer is larger
     *     than one kernel binding may be
     */
    long allocate(long bytes);

    void free(long address);

    /** The most device memory allocated at once (buffers and scratch) since the last {@link #resetPeakMemory}. */
    long peakMemoryBytes();

    void resetPeakMemory();

    /** A new stream for one executor's passes. */
    CommandStream newStream();

    @Override
    void close();
}
