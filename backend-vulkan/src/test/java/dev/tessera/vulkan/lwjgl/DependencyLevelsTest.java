package dev.tessera.vulkan.lwjgl;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Each command lands one level above the last earlier command it must follow, and beside the rest. */
class DependencyLevelsTest {
    private final DependencyLevels levels = new DependencyLevels();

    private int place(long[] reads, long[] writes) {
        return levels.place(reads, reads.length, writes, writes.length);
    }

    @Test
    void readersOfOneBufferRunTogetherAfterItsWriter() {
        assertEquals(1, place(new long[0], new long[] {0, 100}));
        assertEquals(2, place(new long[] {0, 100}, new long[] {100, 200}));
        assertEquals(2, place(new long[] {0, 100}, new long[] {200, 300}), "another reader of the same input");
        assertEquals(1, place(new long[0], new long[] {300, 400}), "touches nothing used before");
        assertEquals(3, place(new long[] {100, 200, 200, 300}, new long[] {400, 500}));
    }

    @Test
    void aWriteWaitsForEarlierReadsAndWrites() {
        assertEquals(1, place(new long[0], new long[] {0, 100}));
        assertEquals(2, place(new long[] {0, 100}, new long[] {100, 200}));
        assertEquals(3, place(new long[0], new long[] {0, 100}), "after the read of the same memory");
        assertEquals(4, place(new long[0], new long[] {0, 100}), "after the write of the same memory");
    }

    @Test
    void rangesThatOverlapPartlyAreOrdered() {
        assertEquals(1, place(new long[0], new long[] {0, 100}));
        assertEquals(2, place(new long[] {0, 100}, new long[] {1000, 1100}));
        // Memory [50, 150) reused after [0, 100) was freed: its writer waits for the read at level 2.
        assertEquals(3, place(new long[0], new long[] {50, 150}));
        assertEquals(1, place(new long[0], new long[] {150, 250}), "just past the reused memory");
        assertEquals(4, place(new long[] {120, 130}, new long[0]));
        assertEquals(2, place(new long[] {10, 40}, new long[0]), "the part of [0, 100) that was not rewritten");
    }

    @Test
    void aFenceSeparatesWhatComesBeforeFromWhatComesAfter() {
        assertEquals(1, place(new long[0], new long[] {0, 100}));
        assertEquals(2, place(new long[] {0, 100}, new long[] {100, 200}));
        assertEquals(2, levels.fence());
        assertEquals(3, place(new long[0], new long[] {500, 600}), "independent, but after the fence");
    }
}
