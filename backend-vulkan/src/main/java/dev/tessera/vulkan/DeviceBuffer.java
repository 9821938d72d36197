package dev.tessera.vulkan;

import dev.tessera.runtime.backend.DeviceMemory;
import dev.tessera.runtime.sparse.ActivationCache;

/**
 * Device memory owned by whoever holds it (weights, working maps, cache entries); close frees it.
 * As an {@link ActivationCache.Entry} its size is its exact byte count.
 */
final class DeviceBuffer implements DeviceMemory {
    final long address;
    private final long bytes;
    private final ComputeDevice device;
    private boolean freed;

    DeviceBuffer(ComputeDevice device, long bytes) {
        this.device = device;
        this.bytes = bytes;
        this.address = device.allocate(bytes);
    }

    @Override
    public long address() {
        return address;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public synchronized void close() {
        if (freed) return;
        freed = true;
        device.free(address);
    }
}
