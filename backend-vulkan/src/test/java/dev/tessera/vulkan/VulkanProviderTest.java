package dev.tessera.vulkan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.BackendUnavailableException;
import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.io.RandomWeights;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.tensor.Shape;
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

    /** No Vulkan instance outlives probing or the last model (one alive at exit crashed NVIDIA's driver). */
    @Test
    void theDeviceIsOpenOnlyWhileAModelHoldsIt() {
        if (vulkan().unavailableReason() != null) return;
        assertFalse(VulkanBackendProvider.deviceOpen(), "probing leaves no device open");
        GraphBuilder g = new dev.tessera.runtime.graph.GraphBuilder(new dev.tessera.runtime.io.RandomWeights(0));
        ModelGraph graph = g.build("conv", g.conv("conv", g.input(Shape.nchw(1, 4, 8, 8)), 4, 3));
        VulkanBackendProvider provider = new VulkanBackendProvider();
        try (DeviceModel a = provider.load(graph, ActivationCache.Precision.FP32)) {
            try (DeviceModel b = provider.load(graph, ActivationCache.Precision.FP32)) {
                assertTrue(VulkanBackendProvider.deviceOpen());
            }
            assertTrue(VulkanBackendProvider.deviceOpen(), "the first model still holds it");
        }
        assertFalse(VulkanBackendProvider.deviceOpen(), "the last close destroys device and instance");
    }

    /**
     * An app may open and close models for as long as it runs: the device (and its instance) made
     * and destroyed 100 times in one process, or, where the driver refuses new instances (NVIDIA's
     * driver 580 after 30 in a process), an error that says so. The printout counts the process's
     * open files, to tell a leak of ours from the driver's limit (29 files at the refusal on the H100).
     */
    @Test
    void theDeviceCanBeOpenedAndClosedManyTimes() throws java.io.IOException {
        if (vulkan().unavailableReason() != null) return;
        for (int i = 1; i <= 100; i++) {
            try (ComputeDevice d = dev.tessera.vulkan.lwjgl.LwjglDevice.open()) {
                assertTrue(d.memoryBytes() > 0);
            } catch (BackendUnavailableException e) {
                System.out.printf("open number %d refused with %d open files: %s%n", i, openFiles(), e.getMessage());
                assertTrue(e.getMessage().contains("instances made and destroyed in this process"), e.getMessage());
                return;
            }
            if (i % 25 == 0) System.out.printf("device opened and closed %d times, %d open files%n", i, openFiles());
        }
    }

    private static long openFiles() throws java.io.IOException {
        java.nio.file.Path fds = java.nio.file.Path.of("/proc/self/fd");
        if (!java.nio.file.Files.isDirectory(fds)) return -1;
        try (var list = java.nio.file.Files.list(fds)) {
            return list.count();
        }
    }

    @Test
    void unavailableVulkanSaysWhyWhenAskedFor() {
        String reason = vulkan().unavailableReason();
        if (reason == null) return; // a device is present: nothing to refuse
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.choose("vulkan"));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }
}
