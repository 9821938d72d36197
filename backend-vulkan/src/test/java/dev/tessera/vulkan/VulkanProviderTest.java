package dev.tessera.vulkan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.BackendUnavailableException;
import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.Backends;
import dev.tessera.spi.DeviceInfo;
import org.junit.jupiter.api.Test;

/** The provider on any machine: found by ServiceLoader, ranked by its device, or unavailable with a reason. */
class VulkanProviderTest {
    private static BackendProvider vulkan() {
        return Backends.all().stream().filter(p -> p.name().equals("vulkan")).findFirst().orElseThrow();
    }

    @Test
    void aGpuRanksAboveTheCpuAndASoftwareDeviceBelowIt() {
        BackendProvider vulkan = vulkan();
        System.out.println("vulkan: " + (vulkan.unavailableReason() == null ? vulkan.devices() : vulkan.unavailableReason()));
        if (vulkan.unavailableReason() != null) {
            assertTrue(vulkan.devices().isEmpty());
            return;
        }
        DeviceInfo device = vulkan.devices().get(0);
        if (device.kind() == DeviceInfo.Kind.SOFTWARE_GPU) {
            assertTrue(vulkan.rank() < 0);
            assertEquals("vulkan", Backends.choose("vulkan").name(), "a software device runs when asked for by name");
        } else {
            assertTrue(vulkan.rank() > 0 && vulkan.rank() < 100, "between the CPU and CUDA: " + vulkan.rank());
        }
        assertFalse(Backends.best().name().equals("vulkan") && device.kind() == DeviceInfo.Kind.SOFTWARE_GPU);
    }

    @Test
    void unavailableVulkanSaysWhyWhenAskedFor() {
        String reason = vulkan().unavailableReason();
        if (reason == null) return; // a device is present: nothing to refuse
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.choose("vulkan"));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }
}
