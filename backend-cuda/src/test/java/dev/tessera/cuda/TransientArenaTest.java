package dev.tessera.cuda;

import static org.junit.jupiter.api.Assertions.*;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The arena's host bookkeeping (no GPU needed): blocks never overlap, and freeing everything empties it. */
class TransientArenaTest {
    @Test
    void blocksNeverOverlapAndCoalesce() {
        TransientArena.Blocks blocks = new TransientArena.Blocks(1 << 20);
        Random random = new Random(1);
        List<long[]> live = new ArrayList<>(); // offset, size
        for (int i = 0; i < 20_000; i++) {
            if (live.isEmpty() || random.nextInt(3) > 0) {
                long size = 256L * (1 + random.nextInt(64));
                long offset = blocks.allocate(size);
                if (offset < 0) continue;
                for (long[] b : live) assertTrue(offset + size <= b[0] || b[0] + b[1] <= offset, "overlap at " + offset);
                assertTrue(offset + size <= 1 << 20);
                live.add(new long[] {offset, size});
            } else {
                long[] b = live.remove(random.nextInt(live.size()));
                blocks.free(b[0]);
            }
        }
        for (long[] b : live) blocks.free(b[0]);
        assertEquals(0, blocks.live());
        assertEquals(0, blocks.top(), "all free blocks coalesce back into the bump region");
        assertEquals(0, blocks.allocate(1 << 20), "the whole range is one block again");
    }

    @Test
    void reportsWhenFullAndRejectsUnknownOffsets() {
        TransientArena.Blocks blocks = new TransientArena.Blocks(1024);
        assertEquals(0, blocks.allocate(1024));
        assertEquals(-1, blocks.allocate(256));
        assertThrows(IllegalStateException.class, () -> blocks.free(512));
    }
}
