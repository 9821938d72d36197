package dev.tessera.runtime.cpu;

import dev.tessera.runtime.backend.ComputeBackend;
import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.DeviceInfo;
import dev.tessera.spi.OpKind;
import java.util.Collections;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** The CPU backend: always there, every op, OpenBLAS for matrix work, all cores. */
public final class CpuBackendProvider implements BackendProvider, ComputeBackend {
    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public int rank() {
        return 0;
    }

    @Override
    public List<DeviceInfo> devices() {
        int cores = Runtime.getRuntime().availableProcessors();
        return Collections.singletonList(new DeviceInfo("cpu", cores + " cores, " + System.getProperty("os.arch") + " (OpenBLAS)",
                DeviceInfo.Kind.CPU, Runtime.getRuntime().maxMemory()));
    }

    @Override
    public @Nullable String unavailableReason() {
        return null;
    }

    @Override
    public boolean supports(OpKind op) {
        return true;
    }

    /** Weights stay where the graph holds them (host memory); each executor plans its own buffers. */
    @Override
    public DeviceModel load(ModelGraph graph, ActivationCache.Precision precision) {
        String device = devices().get(0).name();
        return new DeviceModel() {
            @Override
            public GraphExecutor newExecutor(SparsePlanner planner) {
                return new CpuSparseExecutor(planner, precision);
            }

            @Override
            public String device() {
                return device;
            }

            @Override
            public long peakMemoryBytes() {
                return 0;
            }

            @Override
            public void resetPeakMemory() {}

            @Override
            public void close() {}
        };
    }
}
