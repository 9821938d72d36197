package dev.tessera.runtime.cpu;

import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.DeviceInfo;
import dev.tessera.spi.OpKind;
import java.util.Collections;
import java.util.List;
import org.jspecify.annotations.Nullable;

/** The CPU backend: always there, every op, OpenBLAS for matrix work, all cores. */
public final class CpuBackendProvider implements BackendProvider {
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
}
