package dev.tessera.runtime.backend;

import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.sparse.SparsePlan;
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

    /** Profiles per node instead of per kind (-Dtessera.profile.nodes=true): how the hot spots were found. */
    private static final boolean PER_NODE = Boolean.getBoolean("tessera.profile.nodes");

    /** The profile key of a sparse step: its kind, or its {@linkplain #stepName name} per node. */
    public static String key(SparsePlan.Step s) {
        return PER_NODE ? stepName(s) : SparsePlan.kind(s);
    }

    /** The profile key of a node of a dense pass: its op, or its {@linkplain #nodeName name} per node. */
    public static String key(Node node) {
        return PER_NODE ? nodeName(node) : "dense " + node.op().getClass().getSimpleName();
    }

    /** A step by its kind and node (and tiles), as per-node profiles and GPU timelines name it. */
    public static String stepName(SparsePlan.Step s) {
        if (!(s instanceof SparsePlan.NodeStep n)) return SparsePlan.kind(s);
        String name = SparsePlan.kind(s) + " " + n.node().name() + (n.activation() == null ? "" : " + " + n.activation().name())
                + (s instanceof SparsePlan.RunFull f && f.add() != null ? " + " + f.add().name() : "");
        return s instanceof SparsePlan.RunTiles t ? name + " " + t.out() : name;
    }

    /** A node of a dense pass by its name and output shape. */
    public static String nodeName(Node node) {
        return "dense " + node.name() + " " + node.output().shape();
    }
}
