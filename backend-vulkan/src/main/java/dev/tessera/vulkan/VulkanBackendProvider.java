package dev.tessera.vulkan;

import dev.tessera.BackendUnavailableException;
import dev.tessera.runtime.backend.ComputeBackend;
import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.DeviceInfo;
import dev.tessera.spi.OpKind;
import dev.tessera.vulkan.lwjgl.LwjglDevice;
import java.util.Collections;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The Vulkan backend: any GPU with a Vulkan 1.1 driver (NVIDIA, AMD, Intel; Apple GPUs through
 * MoltenVK), and CPU implementations such as Mesa's lavapipe. A GPU ranks above the CPU backend
 * and below CUDA; a CPU implementation ranks below the CPU backend, so it runs only when asked for
 * by name. A model whose cache precision is FP16 stores maps and weights as float16 (arithmetic in
 * float32) where the device stores 16-bit floats in storage buffers.
 */
public final class VulkanBackendProvider implements BackendProvider, ComputeBackend {
    /** Between the CPU backend (0) and CUDA (100). */
    static final int GPU_RANK = 50;
    /** Below the CPU backend: a CPU implementation of Vulkan is slower than the CPU backend. */
    static final int SOFTWARE_RANK = -50;

    /** What probing found (name, kind, memory, float16), kept after the probe's device is closed. */
    record Found(String name, DeviceInfo.Kind kind, long memoryBytes, boolean float16) {}

    private static @Nullable Found found;
    private static @Nullable String unavailable;
    /** The open device while models hold it; the last model's close destroys it (and the instance). */
    private static @Nullable ComputeDevice device;
    private static int users;

    @Override
    public String name() {
        return "vulkan";
    }

    @Override
    public int rank() {
        return unavailableReason() == null && found.kind() == DeviceInfo.Kind.SOFTWARE_GPU ? SOFTWARE_RANK : GPU_RANK;
    }

    @Override
    public List<DeviceInfo> devices() {
        if (unavailableReason() != null) return Collections.emptyList();
        return Collections.singletonList(new DeviceInfo("vulkan", found.name(), found.kind(), found.memoryBytes()));
    }

    @Override
    public @Nullable String unavailableReason() {
        return probe();
    }

    @Override
    public boolean supports(OpKind op) {
        return true;
    }

    @Override
    public DeviceModel load(ModelGraph graph, ActivationCache.Precision precision) {
        ComputeDevice d = acquire();
        try {
            boolean half = precision == ActivationCache.Precision.FP16;
            if (half && !d.float16()) {
                throw new BackendUnavailableException(d.name() + " cannot store float16 values in storage buffers; load the model at FP32");
            }
            return new VulkanModel(d, graph, half, VulkanBackendProvider::release);
        } catch (RuntimeException e) {
            release();
            throw e;
        }
    }

    /** What the probe found; throws with the reason when there is no usable device. */
    static synchronized Found probed() {
        String why = probe();
        if (why != null) throw new BackendUnavailableException("Vulkan is unavailable: " + why);
        return found;
    }

    /** The device for one more model, opened if no model holds it; throws with the reason when there is none. */
    static synchronized ComputeDevice acquire() {
        String why = probe();
        if (why != null) throw new BackendUnavailableException("Vulkan is unavailable: " + why);
        if (device == null) device = LwjglDevice.open();
        users++;
        return device;
    }

    /**
     * One model fewer on the device; the last one closes it, so no Vulkan instance outlives the
     * models (an instance alive at JVM exit crashed NVIDIA's driver there).
     */
    static synchronized void release() {
        if (--users == 0 && device != null) {
            device.close();
            device = null;
        }
    }

    /** Whether a device (and its Vulkan instance) is open: only while some model holds it. */
    static synchronized boolean deviceOpen() {
        return device != null;
    }

    /** Why Vulkan cannot be used here, or null when it can; the first call opens a device to look, then closes it. */
    private static synchronized @Nullable String probe() {
        if (found == null && unavailable == null) {
            try (ComputeDevice d = LwjglDevice.open()) {
                found = new Found(d.name(), d.kind(), d.memoryBytes(), d.float16());
            } catch (BackendUnavailableException e) {
                unavailable = e.getMessage();
            } catch (RuntimeException | LinkageError e) {
                unavailable = "Vulkan could not be opened (" + e + ")";
            }
        }
        return unavailable;
    }
}
