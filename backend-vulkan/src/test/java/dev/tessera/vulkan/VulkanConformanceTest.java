package dev.tessera.vulkan;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.backend.BackendConformance;
import dev.tessera.runtime.backend.ComputeBackend;
import org.junit.jupiter.api.BeforeAll;

/** The golden cases on the Vulkan backend in float32 (skipped without a Vulkan device; CI runs them on lavapipe). */
class VulkanConformanceTest extends BackendConformance {
    @BeforeAll
    static void needsVulkan() {
        String why = new VulkanBackendProvider().unavailableReason();
        assumeTrue(why == null, () -> "no Vulkan: " + why);
    }

    @Override
    protected ComputeBackend backend() {
        return new VulkanBackendProvider();
    }
}
