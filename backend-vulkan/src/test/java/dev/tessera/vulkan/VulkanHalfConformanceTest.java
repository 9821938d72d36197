package dev.tessera.vulkan;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.backend.BackendConformance;
import dev.tessera.runtime.backend.ComputeBackend;
import dev.tessera.runtime.sparse.ActivationCache;
import org.junit.jupiter.api.BeforeAll;

/**
 * The golden cases on the Vulkan backend with maps and weights stored as float16 (float32
 * arithmetic), against the float32 reference: the tolerance is what float16 storage costs on these
 * cases. Skipped where the device cannot store 16-bit floats in storage buffers.
 */
class VulkanHalfConformanceTest extends BackendConformance {
    @BeforeAll
    static void needsFloat16() {
        String why = new VulkanBackendProvider().unavailableReason();
        assumeTrue(why == null, () -> "no Vulkan: " + why);
        assumeTrue(VulkanBackendProvider.device().float16(), () -> VulkanBackendProvider.device().name() + " has no 16-bit storage");
    }

    @Override
    protected ComputeBackend backend() {
        return new VulkanBackendProvider();
    }

    @Override
    protected ActivationCache.Precision precision() {
        return ActivationCache.Precision.FP16;
    }

    @Override
    protected double tolerance() {
        return 5e-3;
    }
}
