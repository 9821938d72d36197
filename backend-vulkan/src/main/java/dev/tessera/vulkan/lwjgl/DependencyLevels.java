package dev.tessera.vulkan.lwjgl;

import java.util.Map;
import java.util.TreeMap;

/**
 * Levels for a pass's commands, so that each runs after every earlier command it depends on and
 * beside the rest. A command placed here depends on each earlier one that wrote memory it reads,
 * or read or wrote memory it writes; its level is one above the highest of those (1 when there are
 * none). Commands of one level run without barriers between them, so small kernels that do not
 * depend on each other share the GPU instead of each waiting for the previous one to drain.
 * Memory is a range of device addresses, [start, end); ranges of different commands may overlap
 * partly (scratch memory reused within a pass), so the levels are kept per byte range.
 */
final class DependencyLevels {
    /** The last levels that read and wrote the addresses of [start, end). */
    private static final class Segment {
        final long end;
        int readLevel, writeLevel;

        Segment(long end, int readLevel, int writeLevel) {
            this.end = end;
            this.readLevel = readLevel;
            this.writeLevel = writeLevel;
        }
    }

    private final TreeMap<Long, Segment> segments = new TreeMap<>(); // by start; disjoint
    private int floor, highest;

    /**
     * Places a command that reads and writes the given ranges (pairs of start and end in
     * {@code reads[0, readCount)} and {@code writes[0, writeCount)}), and returns its level.
     */
    int place(long[] reads, int readCount, long[] writes, int writeCount) {
        int level = floor + 1;
        for (int i = 0; i < readCount; i += 2) level = Math.max(level, 1 + highestOver(reads[i], reads[i + 1], false));
        for (int i = 0; i < writeCount; i += 2) level = Math.max(level, 1 + highestOver(writes[i], writes[i + 1], true));
        for (int i = 0; i < readCount; i += 2) raise(reads[i], reads[i + 1], level, false);
        for (int i = 0; i < writeCount; i += 2) raise(writes[i], writes[i + 1], level, true);
        highest = Math.max(highest, level);
        return level;
    }

    /**
     * Places a command that must follow every command placed so far and precede every command placed
     * after it (a timestamp), and returns its level: the highest so far, whose commands it follows.
     */
    int fence() {
        floor = highest;
        return highest;
    }

    /** The highest level that wrote (and, for a write, read) any address of [start, end). */
    private int highestOver(long start, long end, boolean write) {
        int level = 0;
        Map.Entry<Long, Segment> before = segments.lowerEntry(start);
        if (before != null && before.getValue().end > start) level = levelOf(before.getValue(), write);
        for (Segment s : segments.subMap(start, true, end, false).values()) level = Math.max(level, levelOf(s, write));
        return level;
    }

    private static int levelOf(Segment s, boolean write) {
        return write ? Math.max(s.readLevel, s.writeLevel) : s.writeLevel;
    }

    /** Notes that {@code level} reads (or writes) [start, end). */
    private void raise(long start, long end, int level, boolean write) {
        split(start);
        split(end);
        for (long at = start; at < end; ) {
            Map.Entry<Long, Segment> next = segments.ceilingEntry(at);
            Segment s;
            if (next != null && next.getKey() == at) {
                s = next.getValue();
            } else { // a gap, not used before: up to the next segment or the end
                s = new Segment(next == null ? end : Math.min(end, next.getKey()), 0, 0);
                segments.put(at, s);
            }
            if (write) s.writeLevel = Math.max(s.writeLevel, level);
            else s.readLevel = Math.max(s.readLevel, level);
            at = s.end;
        }
    }

    /** Splits the segment that spans {@code address}, if any, into the parts below and from it. */
    private void split(long address) {
        Map.Entry<Long, Segment> e = segments.lowerEntry(address);
        if (e == null || e.getValue().end <= address) return;
        Segment s = e.getValue();
        segments.put(e.getKey(), new Segment(address, s.readLevel, s.writeLevel));
        segments.put(address, new Segment(s.end, s.readLevel, s.writeLevel));
    }
}
