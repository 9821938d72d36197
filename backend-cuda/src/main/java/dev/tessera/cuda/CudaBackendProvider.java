package dev.tessera.cuda;

import dev.tessera.runtime.backend.ComputeBackend;
import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.DeviceInfo;
import dev.tessera.spi.OpKind;
import java.util.Collections;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The CUDA backend: NVIDIA GPUs of compute capability 8.0 or later (Ampere, Ada, Hopper) with a
 * CUDA 13 driver, cuDNN 9 and cuBLAS installed. Ranked above the CPU. A model whose cache
 * precision is FP16 computes in float16 on tensor cores (float32 accumulation); FP32 computes in
 * plain float32 (no TF32), matching the reference within 1e-4.
 */
public final class CudaBackendProvider implements BackendProvider, ComputeBackend {
    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public int rank() {
        return 100;
    }

    @Override
    public List<DeviceInfo> devices() {
        if (CudaDevice.unavailableReason() != null) return Collections.emptyList();
        CudaDevice d = CudaDevice.get();
        return Collections.singletonList(new DeviceInfo("cuda", d.name + " (compute " + d.computeCapability / 10 + "."
                + d.computeCapability % 10 + ")", DeviceInfo.Kind.DISCRETE_GPU, d.memoryBytes));
    }

    @Override
    public @Nullable String unavailableReason() {
        return CudaDevice.unavailableReason();
    }

    @Override
    public boolean supports(OpKind op) {
        return true;
    }

    @Override
    public DeviceModel load(ModelGraph graph, ActivationCache.Precision precision) {
        return new CudaModel(CudaDevice.get(), graph, precision == ActivationCache.Precision.FP16);
    }
}
