package dev.tessera.runtime.backend;

import java.util.stream.IntStream;

/**
 * Large host memory copies split into ranges that several cores copy side by side: one core does not
 * reach a desktop's memory bandwidth (on an H100's 16-core host, a GauGAN edit through Vulkan, whose
 * 18.9 MB input is staged each pass, returned 2-3 ms sooner; docs/benchmarks.md). Backends copy
 * inputs into, and outputs out of, their transfer memory with it.
 */
public final class ParallelCopy {
    private ParallelCopy() {}

    /** Copies elements [from, to) of a transfer. */
    public interface Range {
        void copy(long from, long to);
    }

    /**
     * Runs {@code range} over [0, count) in about one part per core (the common fork-join pool and
     * the caller), each at least {@code minPart} elements; smaller copies stay on the calling thread.
     */
    public static void run(long count, long minPart, Range range) {
        int parts = (int) Math.max(1, Math.min(Runtime.getRuntime().availableProcessors(), count / minPart));
        if (parts == 1) {
            range.copy(0, count);
            return;
        }
        IntStream.range(0, parts).parallel().forEach(p -> range.copy(count * p / parts, count * (p + 1) / parts));
    }
}
