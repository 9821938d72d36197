package dev.tessera.runtime.backend;

import dev.tessera.runtime.cpu.CpuBackendProvider;

/** The golden cases on the CPU backend, float32. */
class CpuConformanceTest extends BackendConformance {
    @Override
    protected ComputeBackend backend() {
        return new CpuBackendProvider();
    }
}
