package dev.tessera.spi;

import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * A compute backend, found with {@link java.util.ServiceLoader}. Providers rank themselves; the
 * best available one runs models unless one is named (by option or the TESSERA_BACKEND
 * environment variable). A provider whose device or driver is missing stays listed, with the reason.
 */
public interface BackendProvider {
    /** Short lowercase name: "cpu", "cuda", "vulkan", "metal". */
    String name();

    /** Higher runs first; the CPU backend is 0, real GPUs above it, software GPUs below it. */
    int rank();

    /** Devices this backend can use now; empty when unavailable. */
    List<DeviceInfo> devices();

    /** Why no device can be used (no driver, no GPU, ...), or null when available. */
    @Nullable String unavailableReason();

    boolean supports(OpKind op);
}
