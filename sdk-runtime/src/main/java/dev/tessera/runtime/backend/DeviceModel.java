package dev.tessera.runtime.backend;

import dev.tessera.runtime.sparse.SparsePlanner;

/** A graph loaded on a device: weights shared by the executors it opens. Closing frees the weights. */
public interface DeviceModel extends AutoCloseable {
    /** A new executor for the graph {@code planner} plans; one per session, as executors are not thread-safe. */
    GraphExecutor newExecutor(SparsePlanner planner);

    /** Human-readable name of the device. */
    String device();

    /**
     * Peak device memory held since the last {@link #resetPeakMemory} by everything on this
     * model's device (weights, caches, working and transient buffers), or 0 for a backend that
     * keeps tensors in JVM-managed memory (the CPU backend).
     */
    long peakMemoryBytes();

    void resetPeakMemory();

    @Override
    void close();
}
