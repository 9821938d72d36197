package dev.tessera.runtime.graph;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * How a backend runs a graph densely, decided once per graph: which activations and adds run inside
 * the op that produces their input (saving a pass over memory, and a launch on a GPU), which nodes
 * make no new memory (channel views of single-sample maps, and those fused nodes), and when each
 * value's memory can be reused. Every backend runs the same schedule.
 */
public final class DenseSchedule {
    private final ModelGraph graph;
    private final Node[] fused; // per node index, the activation node it applies at its end
    private final Node[] fusedAdds; // per node index (a conv), the add node it applies at its end
    private final Value[] aliased; // per node index, the input whose memory the node's output shares, or null
    private final List<List<Value>> releases;

    /**
     * @param observed values (by id) that must stay as their op computed them (cached by a full
     *     pass), so no activation or add is fused into their producer
     */
    public DenseSchedule(ModelGraph graph, boolean[] observed) {
        this.graph = graph;
        List<Node> nodes = graph.nodes();
        Uses uses = Uses.of(graph, observed);
        this.fused = fuseActivations(graph, uses);
        this.fusedAdds = fuseAdds(graph, uses, fused);
        this.aliased = new Value[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            if (isView(nodes.get(i))) aliased[i] = nodes.get(i).inputs().get(0);
            for (Node away : new Node[] {fused[i], fusedAdds[i]}) { // computed by node i, in its output's memory
                if (away != null) aliased[uses.producer()[away.output().id()]] = nodes.get(i).output();
            }
        }
        this.releases = releasesAfterEachNode(graph, aliased);
    }

    /** The activation node {@code index} applies at its end, or null. */
    public Op.@Nullable Activation fusedActivation(int index) {
        return fused[index] == null ? null : (Op.Activation) fused[index].op();
    }

    /** The activation node whose output node {@code index} yields (it runs that node's op at its end), or null. */
    public @Nullable Node fusedActivationNode(int index) {
        return fused[index];
    }

    /**
     * The add node that conv {@code index} applies at its end, or null: the conv computes the add's
     * output, its own output plus the add's other input ({@link #addend}), which is computed before the conv.
     */
    public @Nullable Node fusedAddNode(int index) {
        return fusedAdds[index];
    }

    /** Which input (0 or 1) of a fused add node {@code add} its conv does not produce: the addend. */
    public static int addendIndex(Node add, Node conv) {
        return add.inputs().get(0).equals(conv.output()) ? 1 : 0;
    }

    /** The input of a fused add node {@code add} that its conv does not produce. */
    public static Value addend(Node add, Node conv) {
        return add.inputs().get(addendIndex(add, conv));
    }

    /** Whether node {@code index} makes no memory of its own: a view of its input, or an activation or add its producer applies. */
    public boolean isAlias(int index) {
        return aliased[index] != null;
    }

    /** The input whose memory alias node {@code index} shares: its producer's output for a fused node, the sliced map for a view. */
    public Value aliased(int index) {
        Value v = aliased[index];
        if (v == null) throw new IllegalArgumentException(graph.nodes().get(index).name() + " is not an alias");
        return v;
    }

    /** Values whose memory may be reused once node {@code index} has run (never the graph's output or inputs). */
    public List<Value> releasedAfter(int index) {
        return releases.get(index);
    }

    /** A slice of a single-sample value is a contiguous range of its parent: share the memory. */
    public static boolean isView(Node node) {
        return node.op() instanceof Op.SliceChannels && node.inputs().get(0).shape().dim(0) == 1;
    }

    /** Per value (by id): the index of the node producing it (-1 for inputs), and whether a node may compute it as part of its reader. */
    private record Uses(int[] producer, boolean[] inner) {
        /** A value is inner when exactly one node reads it and it is neither the graph's output nor observed. */
        static Uses of(ModelGraph graph, boolean[] observed) {
            List<Node> nodes = graph.nodes();
            int[] readers = new int[graph.valueCount()];
            int[] producer = new int[graph.valueCount()];
            Arrays.fill(producer, -1);
            for (int i = 0; i < nodes.size(); i++) {
                producer[nodes.get(i).output().id()] = i;
                for (Value in : nodes.get(i).inputs()) readers[in.id()]++;
            }
            boolean[] inner = new boolean[graph.valueCount()];
            for (int v = 0; v < inner.length; v++) inner[v] = readers[v] == 1 && !observed[v] && v != graph.output().id();
            return new Uses(producer, inner);
        }
    }

    /**
     * Activations that can run inside the op producing their input: the producer is a conv, norm,
     * SPADE or add whose output nothing else reads. Per node index, the activation node to apply at its end.
     */
    private static Node[] fuseActivations(ModelGraph graph, Uses uses) {
        List<Node> nodes = graph.nodes();
        Node[] fused = new Node[nodes.size()];
        for (Node n : nodes) {
            if (!(n.op() instanceof Op.Activation)) continue;
            Value in = n.inputs().get(0);
            int p = uses.producer()[in.id()];
            if (p < 0 || !uses.inner()[in.id()] || fused[p] != null) continue;
            Op op = nodes.get(p).op();
            boolean fusable = op instanceof Op.Conv2d || op instanceof Op.GroupNorm || op instanceof Op.BatchNorm
                    || op instanceof Op.Spade || op instanceof Op.Add;
            if (fusable && !isView(nodes.get(p))) fused[p] = n;
        }
        return fused;
    }

    /**
     * Adds that can run inside the conv producing one of their inputs: nothing else reads the
     * conv's output, the other input (same shape, or one value per sample and channel) is computed
     * before the conv, and neither the conv nor the add has a fused activation. Per node index, the
     * add node to apply at its end. (On a GPU the conv's GEMM accumulates onto the addend, so the
     * add costs no launch: DDPM's timestep and residual adds.)
     */
    private static Node[] fuseAdds(ModelGraph graph, Uses uses, Node[] fusedActivations) {
        List<Node> nodes = graph.nodes();
        int[] producer = uses.producer();
        Node[] fused = new Node[nodes.size()];
        for (int j = 0; j < nodes.size(); j++) {
            Node add = nodes.get(j);
            if (!(add.op() instanceof Op.Add) || fusedActivations[j] != null) continue;
            for (Value v : add.inputs()) {
                int p = producer[v.id()];
                if (p < 0 || !(nodes.get(p).op() instanceof Op.Conv2d) || fusedActivations[p] != null || fused[p] != null) continue;
                if (!uses.inner()[v.id()]) continue;
                Value other = addend(add, nodes.get(p));
                if (other.equals(v) || producer[other.id()] > p) continue; // computed after the conv
                fused[p] = add;
                break;
            }
        }
        return fused;
    }

    /**
     * For each node (by index), the values no longer needed once it has run. An alias keeps the
     * input it aliases alive while the alias is read; the graph output, and anything it aliases, is
     * never released (the caller reads it after the last node); inputs belong to the caller.
     */
    private static List<List<Value>> releasesAfterEachNode(ModelGraph graph, Value[] aliased) {
        List<Node> nodes = graph.nodes();
        int never = Integer.MAX_VALUE;
        int[] lastReader = new int[graph.valueCount()];
        Arrays.fill(lastReader, -1);
        lastReader[graph.output().id()] = never;
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            Value shared = aliased[i];
            for (Value in : n.inputs()) {
                int until = in.equals(shared) ? Math.max(i, lastReader[n.output().id()]) : i;
                lastReader[in.id()] = Math.max(lastReader[in.id()], until);
            }
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
