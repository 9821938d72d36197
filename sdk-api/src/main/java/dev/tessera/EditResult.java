package dev.tessera;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The outcome of an edit.
 *
 * @param image the edited output
 * @param editedFraction share of input pixels the edit changed (its difference mask)
 * @param denseMacs multiply-accumulates a dense pass would take (all steps)
 * @param sparseMacs multiply-accumulates this edit took
 * @param phases wall time per phase, in order (e.g. "mask", "plan", "sparse")
 * @param fullRecompute true when the session's cache had been dropped (memory budget), so this edit
 *     first re-ran the full pass on the accepted input
 */
public record EditResult(Image image, double editedFraction, long denseMacs, long sparseMacs,
        Map<String, Duration> phases, String backend, String device, boolean fullRecompute) {
    public EditResult {
        phases = Collections.unmodifiableMap(new LinkedHashMap<>(phases));
    }

    /** Dense over sparse MACs: the ceiling of the edit's speedup. */
    public double macRatio() {
        return sparseMacs == 0 ? Double.POSITIVE_INFINITY : (double) denseMacs / sparseMacs;
    }

    public Duration total() {
        Duration d = Duration.ZERO;
        for (Duration p : phases.values()) d = d.plus(p);
        return d;
    }
}
