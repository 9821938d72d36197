package dev.tessera.runtime.graph;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * How a backend runs a graph densely, decided once per graph: which activations run inside the op
 * that produces their input (saving a pass over memory), which nodes make no new memory (channel
 * views of single-sample maps, and those fused activations), and when each value's memory can be
 * reused. Every backend runs the same schedule.
 */
public final class DenseSchedule {
    private final ModelGraph graph;
    private final Node[] fused; // per node index, the activation node it applies at its end
    private final boolean[] aliases;
    private final List<List<Value>> releases;

    /**
     * @param observed values (by id) that must stay as their op computed them (cached by a full
     *     pass), so no activation is fused into their producer
     */
    public DenseSchedule(ModelGraph graph, boolean[] observed) {
        this.graph = graph;
        List<Node> nodes = graph.nodes();
        this.fused = fuseActivations(graph, observed);
        this.aliases = new boolean[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) aliases[i] = isView(nodes.get(i)) || isFusedAway(i);
        this.releases = releasesAfterEachNode(graph, aliases);
    }

    /** The activation node {@code index} applies at its end, or null. */
    public Op.@Nullable Activation fusedActivation(int index) {
        return fused[index] == null ? null : (Op.Activation) fused[index].op();
    }

    /** The activation node whose output node {@code index} yields (it runs that node's op at its end), or null. */
    public @Nullable Node fusedActivationNode(int index) {
        return fused[index];
    }

    /** Whether node {@code index} makes no memory of its own: a view of its input, or an activation its producer applies. */
    public boolean isAlias(int index) {
        return aliases[index];
    }

    /** Values whose memory may be reused once node {@code index} has run (never the graph's output or inputs). */
    public List<Value> releasedAfter(int index) {
        return releases.get(index);
    }

    /** A slice of a single-sample value is a contiguous range of its parent: share the memory. */
    public static boolean isView(Node node) {
        return node.op() instanceof Op.SliceChannels && node.inputs().get(0).shape().dim(0) == 1;
    }

    /**
     * Activations that can run inside the op producing their input: the producer is a conv, norm,
     * SPADE or add whose output nothing else reads. Per node index, the activation node to apply at its end.
     */
    private static Node[] fuseActivations(ModelGraph graph, boolean[] observed) {
        List<Node> nodes = graph.nodes();
        int[] readers = new int[graph.valueCount()];
        int[] producer = new int[graph.valueCount()];
        Arrays.fill(producer, -1);
        for (int i = 0; i < nodes.size(); i++) {
            producer[nodes.get(i).output().id()] = i;
            for (Value in : nodes.get(i).inputs()) readers[in.id()]++;
        }
        Node[] fused = new Node[nodes.size()];
        for (Node n : nodes) {
            if (!(n.op() instanceof Op.Activation)) continue;
            Value in = n.inputs().get(0);
            int p = producer[in.id()];
            if (p < 0 || readers[in.id()] != 1 || in.id() == graph.output().id() || observed[in.id()] || fused[p] != null) continue;
            Op op = nodes.get(p).op();
            boolean fusable = op instanceof Op.Conv2d || op instanceof Op.GroupNorm || op instanceof Op.BatchNorm
                    || op instanceof Op.Spade || op instanceof Op.Add;
            if (fusable && !isView(nodes.get(p))) fused[p] = n;
        }
        return fused;
    }

    private boolean isFusedAway(int i) {
        Node n = graph.nodes().get(i);
        if (!(n.op() instanceof Op.Activation)) return false;
        for (int p = 0; p < i; p++) {
            if (fused[p] == n) return true;
        }
        return false;
    }

    /**
     * For each node (by index), the values no longer needed once it has run. An alias keeps its
     * parent alive while the alias is read; the graph output, and anything it aliases, is never
     * released (the caller reads it after the last node); inputs belong to the caller.
     */
    private static List<List<Value>> releasesAfterEachNode(ModelGraph graph, boolean[] aliases) {
        List<Node> nodes = graph.nodes();
        int never = Integer.MAX_VALUE;
        int[] lastReader = new int[graph.valueCount()];
        Arrays.fill(lastReader, -1);
        lastReader[graph.output().id()] = never;
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            int until = aliases[i] ? Math.max(i, lastReader[n.output().id()]) : i;
            for (Value in : n.inputs()) lastReader[in.id()] = Math.max(lastReader[in.id()], until);
        }
        List<List<Value>> releases = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) releases.add(new ArrayList<>());
        for (int i = 0; i < nodes.size(); i++) {
            Value v = nodes.get(i).output();
            if (lastReader[v.id()] == never) continue;
            releases.get(Math.max(i, lastReader[v.id()])).add(v);
        }
        return releases;
    }
}
