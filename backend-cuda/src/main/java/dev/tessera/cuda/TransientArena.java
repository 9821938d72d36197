package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;

/**
 * The transient memory of one lane's passes: one device buffer, handed out first-fit on the host.
 * Reuse right after a free is safe because every kernel that uses this memory runs on the lane's
 * one stream, in order (work on another lane that reads a block keeps it until the pass ends).
 *
 * <p>Why not the stream-ordered pool: a pass captured as a CUDA graph with cudaMallocAsync and
 * cudaFreeAsync in it gets memory nodes, and on an H100 a GauGAN fp16 pass with them took 8.9 ms of
 * GPU time for 4.4 ms of kernels. Addresses from this arena are plain pointers, so captured graphs
 * hold kernels only. A request that does not fit goes to the pool (correct, just slower if captured);
 * the next {@link #beginPass} grows the buffer to the high-water mark and bumps {@link #generation()},
 * which invalidates graphs that captured the old addresses.
 */
final class TransientArena implements AutoCloseable {
    private static final long ALIGN = 256;

    private final CUstream_st stream;
    private DeviceBuffer buffer = DeviceBuffer.allocate(0);
    private Blocks blocks = new Blocks(0);
    private final Map<Long, Long> pooled = new HashMap<>(); // address -> bytes (overflow, from the pool)
    private long overflow; // bytes currently taken from the pool
    private long highWater; // what this pass would have needed, overflow included
    private int generation;

    TransientArena(CUstream_st stream) {
        this.stream = stream;
    }

    /** Called between passes (nothing live): grows the buffer if the last pass overflowed. */
    void beginPass() {
        if (blocks.live() != 0 || !pooled.isEmpty()) throw new IllegalStateException("transient buffers live across passes");
        if (highWater > buffer.bytes()) {
            buffer.close();
            buffer = DeviceBuffer.allocate(highWater);
            generation++;
        }
        blocks = new Blocks(buffer.bytes());
        highWater = 0;
    }

    /** Bumped whenever the buffer moves: graphs that captured addresses in the old one are stale. */
    int generation() {
        return generation;
    }

    long allocate(long bytes) {
        long size = Math.max(ALIGN, (bytes + ALIGN - 1) / ALIGN * ALIGN);
        long offset = blocks.allocate(size);
        if (offset >= 0) {
            highWater = Math.max(highWater, blocks.top() + overflow);
            return buffer.address + offset;
        }
        overflow += size; // does not fit: the pool serves it, the next pass has room
        highWater = Math.max(highWater, blocks.top() + overflow);
        Pointer p = new Pointer();
        CudaDevice.check(cudaMallocAsync(p, size, stream), "cudaMallocAsync(" + size + " bytes)");
        pooled.put(p.address(), size);
        return p.address();
    }

    /** Frees a block; one from the pool is freed in the order of {@code after} (a stream ordered after its last reader). */
    void free(long address, CUstream_st after) {
        Long size = pooled.remove(address);
        if (size == null) {
            blocks.free(address - buffer.address);
            return;
        }
        overflow -= size;
        CudaDevice.check(cudaFreeAsync(CudaDevice.at(address), after), "cudaFreeAsync");
    }

    /** Forgets a block whose allocation was part of an abandoned graph capture (nothing to free on the device). */
    void abandon(long address) {
        if (pooled.remove(address) == null) blocks.free(address - buffer.address);
    }

    @Override
    public void close() {
        buffer.close();
    }

    /** First-fit blocks of a range [0, capacity): host bookkeeping only. */
    static final class Blocks {
        private final long capacity;
        private final TreeMap<Long, Long> free = new TreeMap<>(); // offset -> size, coalesced, all below top
        private final Map<Long, Long> used = new HashMap<>(); // offset -> size
        private long top; // everything at and above is free

        Blocks(long capacity) {
            this.capacity = capacity;
        }

        /** The offset of a free block of {@code size}, or -1 if none is left. */
        long allocate(long size) {
            long offset = -1, found = 0;
            for (Map.Entry<Long, Long> e : free.entrySet()) {
                if (e.getValue() >= size) {
                    offset = e.getKey();
                    found = e.getValue();
                    break;
                }
            }
            if (offset >= 0) {
                free.remove(offset);
                if (found > size) free.put(offset + size, found - size);
            } else if (top + size <= capacity) {
                offset = top;
                top += size;
            } else {
                return -1;
            }
            used.put(offset, size);
            return offset;
        }

        void free(long offset) {
            Long size = used.remove(offset);
            if (size == null) throw new IllegalStateException("no block at offset " + offset);
            Long next = free.remove(offset + size);
            if (next != null) size += next;
            Map.Entry<Long, Long> before = free.lowerEntry(offset);
            if (before != null && before.getKey() + before.getValue() == offset) {
                free.remove(before.getKey());
                offset = before.getKey();
                size += before.getValue();
            }
            if (offset + size == top) top = offset;
            else free.put(offset, size);
        }

        long top() {
            return top;
        }

        int live() {
            return used.size();
        }
    }
}
