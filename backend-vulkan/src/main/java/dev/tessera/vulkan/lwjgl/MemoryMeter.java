package dev.tessera.vulkan.lwjgl;

/** Device memory allocated now, and the most at once since the last reset (what benchmarks report). Thread-safe. */
final class MemoryMeter {
    private long inUse, peak;

    synchronized void allocated(long bytes) {
        inUse += bytes;
        peak = Math.max(peak, inUse);
    }

    synchronized void freed(long bytes) {
        inUse -= bytes;
    }

    synchronized long peak() {
        return peak;
    }

    synchronized void resetPeak() {
        peak = inUse;
    }
}
