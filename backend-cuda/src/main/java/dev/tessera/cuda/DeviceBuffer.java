package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import dev.tessera.runtime.backend.DeviceMemory;
import dev.tessera.runtime.sparse.ActivationCache;
import org.bytedeco.javacpp.Pointer;
import org.jspecify.annotations.Nullable;

/**
 * Device memory from cudaMalloc, owned by whoever holds it (weights, working maps, cache entries);
 * close frees it. As an {@link ActivationCache.Entry} its size is its exact byte count.
 */
final class DeviceBuffer implements DeviceMemory {
    private static final java.util.concurrent.atomic.AtomicLong LIVE = new java.util.concurrent.atomic.AtomicLong();
    private static final java.util.concurrent.atomic.AtomicLong PEAK = new java.util.concurrent.atomic.AtomicLong();

    final long address;
    private final long bytes;
    private boolean freed;

    private DeviceBuffer(long address, long bytes) {
        this.address = address;
        this.bytes = bytes;
    }

    static DeviceBuffer allocate(long bytes) {
        Pointer p = new Pointer();
        CudaDevice.check(cudaMalloc(p, Math.max(1, bytes)), "cudaMalloc(" + bytes + " bytes)");
        PEAK.accumulateAndGet(LIVE.addAndGet(bytes), Math::max);
        return new DeviceBuffer(p.address(), bytes);
    }

    /** The address of {@code b}, or 0 (a kernel's null pointer) for none, such as a conv without bias. */
    static long addressOf(@Nullable DeviceBuffer b) {
        return b == null ? 0 : b.address;
    }

    /** A buffer holding {@code bytes} bytes copied from host memory at {@code host}. */
    static DeviceBuffer upload(Pointer host, long bytes) {
        DeviceBuffer b = allocate(bytes);
        CudaDevice.check(cudaMemcpy(CudaDevice.at(b.address), host, bytes, cudaMemcpyHostToDevice), "cudaMemcpy (upload)");
        return b;
    }

    /** The most bytes held in DeviceBuffers at once (process-wide) since the last {@link #resetPeak}. */
    static long peakBytes() {
        return PEAK.get();
    }

    static void resetPeak() {
        PEAK.set(LIVE.get());
    }

    @Override
    public long address() {
        return address;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public synchronized void close() {
        if (freed) return;
        freed = true;
        LIVE.addAndGet(-bytes);
        CudaDevice.bindThread();
        CudaDevice.check(cudaFree(CudaDevice.at(address)), "cudaFree");
    }
}
