package dev.tessera.vulkan;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.spi.DeviceInfo;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.TestInfo;

/**
 * The golden cases on the Vulkan backend with maps and weights stored as float16 (float32
 * arithmetic), against the float32 reference: the tolerance is what float16 storage costs on these
 * cases. Skipped where the device cannot store 16-bit floats in storage buffers.
 */
class VulkanHalfConformanceTest extends VulkanConformanceTest {
    /**
     * The cases a CPU implementation (lavapipe in CI) runs: every kernel's float16 variant, dense
     * and sparse. The rest repeat them through executor logic that does not depend on the
     * precision, and would double the CI's longest test; a GPU runs them all.
     */
    private static final Set<String> ON_SOFTWARE_DEVICES = Set.of("conv", "gaugan", "ddpmWithPerChannelAttentionNorm");

    @BeforeAll
    static void needsFloat16() { // after VulkanConformanceTest.needsVulkan
        assumeTrue(VulkanBackendProvider.probed().float16(), () -> VulkanBackendProvider.probed().name() + " has no 16-bit storage");
    }

    @BeforeEach
    void skipRepeatsOnSoftwareDevices(TestInfo test) {
        String name = test.getTestMethod().orElseThrow().getName();
        assumeTrue(VulkanBackendProvider.probed().kind() != DeviceInfo.Kind.SOFTWARE_GPU || ON_SOFTWARE_DEVICES.contains(name),
                () -> name + " runs in float16 on GPUs only (it adds no float16 kernel to the other cases)");
    }

    @Override
    protected ActivationCache.Precision precision() {
        return ActivationCache.Precision.FP16;
    }

    @Override
    protected double tolerance() {
        return 5e-3; // measured on an H100 (2026-11-23): at most 3.6e-3 (ddpm dense), 1.4e-3 (gaugan)
    }
}
