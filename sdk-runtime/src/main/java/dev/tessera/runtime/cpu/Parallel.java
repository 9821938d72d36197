package dev.tessera.runtime.cpu;

import dev.tessera.runtime.tensor.Ranges;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

/** Splits independent iterations over the cores (the common fork-join pool plus the caller). */
final class Parallel {
    private static final int THREADS = Runtime.getRuntime().availableProcessors();

    private Parallel() {}

    /** Runs {@code body} for each i in [0, n); small loops stay on the calling thread. */
    static void forEach(int n, IntConsumer body) {
        if (n <= 1 || THREADS == 1) {
            for (int i = 0; i < n; i++) body.accept(i);
        } else {
            IntStream.range(0, n).parallel().forEach(body);
        }
    }

    /** Runs {@code body(start, end)} on about two contiguous ranges per core covering [0, n). */
    static void forRanges(int n, RangeBody body) {
        Ranges.of(n, 4096, 2).forEach((start, end) -> body.run((int) start, (int) end));
    }

    interface RangeBody {
        void run(int start, int end);
    }
}
