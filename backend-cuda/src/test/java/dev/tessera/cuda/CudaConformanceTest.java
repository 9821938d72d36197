package dev.tessera.cuda;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.backend.BackendConformance;
import dev.tessera.runtime.backend.ComputeBackend;
import org.junit.jupiter.api.BeforeAll;

/** The golden cases on the CUDA backend in float32 (skipped without a CUDA device). */
class CudaConformanceTest extends BackendConformance {
    @BeforeAll
    static void needsGpu() {
        assumeTrue(CudaDevice.unavailableReason() == null, () -> "no CUDA: " + CudaDevice.unavailableReason());
    }

    @Override
    protected ComputeBackend backend() {
        return new CudaBackendProvider();
    }
}
