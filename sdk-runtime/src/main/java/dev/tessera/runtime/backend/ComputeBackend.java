package dev.tessera.runtime.backend;

import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.sparse.ActivationCache;

/**
 * What a {@link dev.tessera.spi.BackendProvider} implements so the runtime can run models on it: it
 * puts a graph's weights on its device. The runtime never sees device memory; backends never see
 * models, only graphs of ops and sparse plans.
 */
public interface ComputeBackend {
    /**
     * The graph's weights on this backend's best device, computing and caching activations at
     * {@code precision} (the CPU computes in float32 whatever the cache precision).
     */
    DeviceModel load(ModelGraph graph, ActivationCache.Precision precision);
}
