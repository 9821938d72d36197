package dev.tessera.runtime.tensor;

import java.util.stream.IntStream;

/**
 * [0, count) split into contiguous parts for the cores to work on side by side (the common
 * fork-join pool and the caller): host loops over large tensors (kernels of the CPU backend, input
 * checks, difference masks) and large host copies, where one core does not reach the memory's
 * bandwidth.
 */
public record Ranges(long count, int parts) {
    private static final int CORES = Runtime.getRuntime().availableProcessors();

    /** One part of work over [from, to). */
    public interface Part {
        void run(long from, long to);
    }

    /**
     * About {@code partsPerCore} parts a core, each at least {@code minPart} elements; one part (the
     * calling thread's) when the count is too small to split.
     */
    public static Ranges of(long count, long minPart, int partsPerCore) {
        return new Ranges(count, (int) Math.max(1, Math.min((long) CORES * partsPerCore, count / Math.max(1, minPart))));
    }

    public long start(int part) {
        return count * part / parts;
    }

    public long end(int part) {
        return start(part + 1);
    }

    /** The part numbers, as a parallel stream when there are several (for a part's result to reduce). */
    public IntStream indices() {
        IntStream all = IntStream.range(0, parts);
        return parts > 1 ? all.parallel() : all;
    }

    /** Runs {@code body} over every part. */
    public void forEach(Part body) {
        indices().forEach(p -> body.run(start(p), end(p)));
    }
}
