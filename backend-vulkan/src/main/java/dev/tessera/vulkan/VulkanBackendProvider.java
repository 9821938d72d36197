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

    private static @Nullable ComputeDevice device;
    private static @Nullable String unavailable;

    @Override
    public String name() {
        return "vulkan";
    }

    @Override
    public int rank() {
        return unavailableReason() == null && device().kind() == DeviceInfo.Kind.SOFTWARE_GPU ? SOFTWARE_RANK : GPU_RANK;
    }

    @Override
    public List<DeviceInfo> devices() {
        if (unavailableReason() != null) return Collections.emptyList();
        ComputeDevice d = device();
        return Collections.singletonList(new DeviceInfo("vulkan", d.name(), d.kind(), d.memoryBytes()));
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
        ComputeDevice d = device();
        boolean half = precision == ActivationCache.Precision.FP16;
        if (half && !d.float16()) {
            throw new BackendUnavailableException(d.name() + " cannot store float16 values in storage buffers; load the model at FP32");
        }
        return new VulkanModel(d, graph, half);
    }

    /** The device, opened on first use (once per process); throws with the reason when there is none. */
    static synchronized ComputeDevice device() {
        String why = probe();
        if (why != null) throw new BackendUnavailableException("Vulkan is unavailable: " + why);
        return device;
    }

    /** Why Vulkan cannot be used here, or null when it can; opens the device on the first call. */
    private static synchronized @Nullable String probe() {
        if (device == null && unavailable == null) {
            try {
                device = LwjglDevice.open();
            } catch (BackendUnavailableException e) {
                unavailable = e.getMessage();
            } catch (RuntimeException | LinkageError e) {
                unavailable = "Vulkan could not be opened (" + e + ")";
            }
        }
        return unavailable;
    }
}
