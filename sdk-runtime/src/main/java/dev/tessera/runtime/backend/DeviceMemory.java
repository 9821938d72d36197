package dev.tessera.runtime.backend;

import dev.tessera.runtime.sparse.ActivationCache;

/** A block of a GPU backend's device memory, addressed by a long; as a cache entry, its exact byte count. */
public interface DeviceMemory extends ActivationCache.Entry {
    long address();
}
