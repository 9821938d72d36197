package dev.tessera.vulkan.lwjgl;

import dev.tessera.DeviceException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.jspecify.annotations.Nullable;

/**
 * Sub-allocates memory of one kind from large {@link Block}s: first fit over each block's free
 * ranges (merged again when freed), a new block when nothing fits. Blocks stay until the pool is
 * closed, so memory one pass frees is reused by the next without a driver call, and the same
 * sequence of requests gets the same addresses (which lets a stream replay a recorded pass).
 * Thread-safe.
 */
final class MemoryPool implements AutoCloseable {
    /** Makes and frees blocks of device memory. */
    interface BlockSource {
        Block create(long bytes);

        void destroy(Block block);
    }

    /** Every allocation starts at a multiple of this (covers every device's storage-buffer and copy alignment). */
    static final long ALIGNMENT = 256;

    private final BlockSource source;
    private final long blockBytes;
    private final long maxBytes;
    private final String kind;
    private final List<Block> blocks = new ArrayList<>();
    private final Map<Integer, TreeMap<Long, Long>> freeRanges = new HashMap<>(); // block id -> offset -> length
    private final TreeMap<Long, Long> allocated = new TreeMap<>(); // address -> length
    private final @Nullable MemoryMeter meter;

    /**
     * @param blockBytes size of a new block (larger requests get a block of their own)
     * @param maxBytes largest allocation (the device's largest storage-buffer binding)
     * @param kind what the memory is for, in error messages
     * @param meter counts this pool's allocations (device memory), or null (host memory)
     */
    MemoryPool(BlockSource source, long blockBytes, long maxBytes, String kind, @Nullable MemoryMeter meter) {
        this.source = source;
        this.meter = meter;
        this.blockBytes = Math.min(blockBytes, maxBytes);
        this.maxBytes = maxBytes;
        this.kind = kind;
    }

    synchronized long allocate(long bytes) {
        long length = Math.max(ALIGNMENT, (bytes + ALIGNMENT - 1) / ALIGNMENT * ALIGNMENT);
        if (length > maxBytes) {
            throw new DeviceException("a buffer of " + bytes + " bytes of " + kind + " exceeds the device's largest storage buffer ("
                    + maxBytes + " bytes)");
        }
        for (Block b : blocks) {
            long address = take(b, length);
            if (address != 0) return address;
        }
        Block b = source.create(Math.max(blockBytes, length));
        blocks.add(b);
        TreeMap<Long, Long> ranges = new TreeMap<>();
        ranges.put(0L, b.bytes());
        freeRanges.put(b.id(), ranges);
        return take(b, length);
    }

    /** The first free range of block {@code b} that fits, or 0. */
    private long take(Block b, long length) {
        TreeMap<Long, Long> ranges = freeRanges.get(b.id());
        for (Map.Entry<Long, Long> r : ranges.entrySet()) {
            long offset = r.getKey(), free = r.getValue(); // read before removing: TreeMap reuses the entry
            if (free < length) continue;
            ranges.remove(offset);
            if (free > length) ranges.put(offset + length, free - length);
            long address = b.address(offset);
            allocated.put(address, length);
            if (meter != null) meter.allocated(length);
            return address;
        }
        return 0;
    }

    synchronized void free(long address) {
        Long length = allocated.remove(address);
        if (length == null) throw new IllegalArgumentException("address " + Long.toHexString(address) + " is not allocated from this pool");
        if (meter != null) meter.freed(length);
        TreeMap<Long, Long> ranges = freeRanges.get(Block.id(address));
        long offset = Block.offset(address), end = offset + length;
        Map.Entry<Long, Long> before = ranges.floorEntry(offset);
        if (before != null && before.getKey() + before.getValue() == offset) {
            offset = before.getKey();
            ranges.remove(offset);
        }
        Long after = ranges.get(end);
        if (after != null) {
            ranges.remove(end);
            end += after;
        }
        ranges.put(offset, end - offset);
    }

    /**
     * Writes the range [start, end) of the allocation that holds {@code address} to {@code range[0]}
     * and {@code range[1]}, and returns true; false when no allocation of this pool holds it.
     */
    synchronized boolean allocationOf(long address, long[] range) {
        Map.Entry<Long, Long> a = allocated.floorEntry(address);
        if (a == null || address >= a.getKey() + a.getValue()) return false;
        range[0] = a.getKey();
        range[1] = a.getKey() + a.getValue();
        return true;
    }

    /** Bytes of blocks this pool holds. */
    synchronized long reservedBytes() {
        long sum = 0;
        for (Block b : blocks) sum += b.bytes();
        return sum;
    }

    /** Frees every block (whatever is still allocated in them). */
    @Override
    public synchronized void close() {
        if (meter != null) for (long length : allocated.values()) meter.freed(length);
        for (Block b : blocks) source.destroy(b);
        blocks.clear();
        freeRanges.clear();
        allocated.clear();
    }
}
