package dev.tessera.runtime.backend;

import dev.tessera.runtime.sparse.SparsePlanner;

/** A graph loaded on a device: weights shared by the executors it opens. Closing frees the weights. */
public interface DeviceModel extends AutoCloseable {
    /** A new executor for the graph {@code planner} plans; one per session, as executors are not thread-safe. */
    GraphExecutor newExecutor(SparsePlanner planner);

    /** Human-readable name of the device. */
    String device();

    @Override
    void close();
}
