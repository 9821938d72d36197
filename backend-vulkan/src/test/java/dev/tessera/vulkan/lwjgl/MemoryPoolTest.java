package dev.tessera.vulkan.lwjgl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.DeviceException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The sub-allocator on fake blocks (no device needed). */
class MemoryPoolTest {
    private static final long BLOCK = 1 << 20;

    /** Hands out numbered blocks and remembers which are alive. */
    private static final class FakeBlocks implements MemoryPool.BlockSource {
        final List<Block> alive = new ArrayList<>();
        int next = 1;

        @Override
        public Block create(long bytes) {
            Block b = new Block(next++, 0, 0, bytes, 0);
            alive.add(b);
            return b;
        }

        @Override
        public void destroy(Block block) {
            alive.remove(block);
        }
    }

    @Test
    void randomAllocationsNeverOverlapAndFreedMemoryIsReused() {
        FakeBlocks blocks = new FakeBlocks();
        MemoryMeter meter = new MemoryMeter();
        MemoryPool pool = new MemoryPool(blocks, BLOCK, 8 * BLOCK, "test memory", meter);
        long mostInUse = 0;
        SplittableRandom random = new SplittableRandom(1);
        TreeMap<Long, Long> live = new TreeMap<>(); // address -> bytes
        for (int step = 0; step < 20_000; step++) {
            if (!live.isEmpty() && random.nextInt(100) < 45) {
                long address = live.keySet().stream().skip(random.nextInt(live.size())).findFirst().orElseThrow();
                pool.free(address);
                live.remove(address);
                continue;
            }
            long bytes = 1 + random.nextLong(random.nextInt(10) == 0 ? 2 * BLOCK : BLOCK / 16);
            long address = pool.allocate(bytes);
            assertEquals(0, Block.offset(address) % MemoryPool.ALIGNMENT);
            var below = live.floorEntry(address);
            var above = live.ceilingEntry(address);
            assertTrue(below == null || below.getKey() + below.getValue() <= address, "overlaps the allocation below");
            assertTrue(above == null || address + bytes <= above.getKey(), "overlaps the allocation above");
            live.put(address, bytes);
            mostInUse = Math.max(mostInUse, live.values().stream().mapToLong(Long::longValue).sum());
        }
        assertTrue(meter.peak() >= mostInUse && meter.peak() < mostInUse + 20_000 * MemoryPool.ALIGNMENT, "peak " + meter.peak());
        long inUse = live.values().stream().mapToLong(Long::longValue).sum();
        assertTrue(pool.reservedBytes() < 4 * inUse + 4 * BLOCK, "blocks grow with use, not with churn: " + pool.reservedBytes());
        pool.close();
        assertTrue(blocks.alive.isEmpty());
        meter.resetPeak();
        assertEquals(0, meter.peak(), "nothing allocated once the pool is closed");
    }

    @Test
    void theSameRequestsGetTheSameAddresses() {
        MemoryPool pool = new MemoryPool(new FakeBlocks(), BLOCK, 8 * BLOCK, "test memory", null);
        long[] first = pass(pool), second = pass(pool);
        assertEquals(List.of(first[0], first[1], first[2]), List.of(second[0], second[1], second[2]));
    }

    private static long[] pass(MemoryPool pool) {
        long a = pool.allocate(1000), b = pool.allocate(3 * BLOCK / 4), c = pool.allocate(BLOCK / 2);
        pool.free(a);
        pool.free(b);
        pool.free(c);
        return new long[] {a, b, c};
    }

    @Test
    void tooLargeForOneBindingIsRefusedWithTheLimit() {
        MemoryPool pool = new MemoryPool(new FakeBlocks(), BLOCK, 8 * BLOCK, "test memory", null);
        DeviceException e = assertThrows(DeviceException.class, () -> pool.allocate(9 * BLOCK));
        assertTrue(e.getMessage().contains(String.valueOf(8 * BLOCK)), e.getMessage());
    }
}
