package dev.tessera.runtime.backend;

import java.util.HashMap;
import java.util.Map;

/**
 * Wall time per step kind of an executor's passes, collected only while enabled (for benchmarks:
 * a GPU backend then waits for each step, which makes the time attributable but the pass slower).
 */
public final class StepProfile {
    private final Map<String, Long> nanos = new HashMap<>();
    private boolean enabled;

    public boolean enabled() {
        return enabled;
    }

    public void setEnabled(boolean on) {
        enabled = on;
    }

    /** Adds {@code elapsed} nanoseconds to {@code kind}. */
    public void add(String kind, long elapsed) {
        nanos.merge(kind, elapsed, Long::sum);
    }

    /** Time per kind so far (a copy). */
    public Map<String, Long> nanosByKind() {
        return new HashMap<>(nanos);
    }

    public void reset() {
        nanos.clear();
    }
}
