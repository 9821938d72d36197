package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudart.cudaFreeHost;
import static org.bytedeco.cuda.global.cudart.cudaMallocHost;

import dev.tessera.runtime.tensor.Ranges;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.bytedeco.javacpp.Pointer;

/**
 * Page-locked host memory that an executor's inputs and outputs pass through. The GPU copies
 * page-locked memory by DMA at the bus's speed; from ordinary (pageable) memory the driver stages
 * it first: GauGAN's 18.9 MB one-hot input took 2.0 ms a pass that way on an H100's host. The host
 * side copies into and out of it on several cores ({@link Ranges}). Grows to the largest
 * transfer; one pass at a time uses it (a pass synchronizes before it returns, so no copy of a
 * finished pass is in flight).
 */
final class PinnedStaging implements AutoCloseable {
    /** Floats a core copies at least (1 MB). */
    private static final int PARALLEL_FLOATS = 1 << 18;

    private Pointer memory = new Pointer();
    private long bytes;

    /** Page-locked memory for {@code floats} floats, at its start. */
    Pointer reserve(long floats) {
        long want = floats * Float.BYTES;
        if (want > bytes) {
            close();
            long size = Math.max(want, 2 * bytes);
            CudaDevice.check(cudaMallocHost(memory, size), "cudaMallocHost(" + size + " bytes)");
            bytes = size;
        }
        return memory;
    }

    /** The first {@code floats} floats of the reserved memory as a buffer. */
    FloatBuffer floats(int floats) {
        return memory.capacity(bytes).asByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer().limit(floats);
    }

    /** Copies src's remaining floats into dst from its position, on several cores for large copies. */
    static void copy(FloatBuffer src, FloatBuffer dst) {
        int from = src.position(), to = dst.position();
        Ranges.of(src.remaining(), PARALLEL_FLOATS, 1).forEach((a, b) ->
                dst.duplicate().position(to + (int) a).put(src.duplicate().position(from + (int) a).limit(from + (int) b)));
    }

    @Override
    public void close() {
        if (bytes > 0) cudaFreeHost(memory);
        memory = new Pointer();
        bytes = 0;
    }
}
