package dev.tessera.runtime.cpu;

import dev.tessera.InvalidInputException;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * Runs a {@link ModelGraph} densely on the CPU. All memory is planned when the executor is made:
 * each intermediate value gets a buffer from a pool, reused once the value's last reader has run,
 * and channel slices of single-sample maps are views, not copies. A run allocates nothing large.
 *
 * <p>Not thread-safe: one executor owns one workspace. Use one executor per thread.
 */
public final class CpuExecutor {
    private final ModelGraph graph;
    private final Tensor[] values;
    private final CpuKernels.Scratch scratch;
    private final Op.Activation[] fused;
    private final boolean[] aliases;
    private final Map<String, Long> nanosByOp = new TreeMap<>();
    private boolean profiling;

    public CpuExecutor(ModelGraph graph) {
        this(graph, new boolean[graph.valueCount()]);
    }

    /**
     * @param observed values (by id) an observer must see as their op computed them, so no
     *     activation is fused into their producer
     */
    public CpuExecutor(ModelGraph graph, boolean[] observed) {
        this.graph = graph;
        this.values = new Tensor[graph.valueCount()];
        List<Node> nodes = graph.nodes();
        this.fused = fuseActivations(graph, observed);
        this.aliases = new boolean[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) aliases[i] = isView(nodes.get(i)) || isFusedAway(i);
        List<List<Value>> releases = releasesAfterEachNode(graph, aliases);
        FloatBuffer[] owned = new FloatBuffer[graph.valueCount()];
        BufferPool pool = new BufferPool();
        int im2colFloats = 1, scoreFloats = 1;
        for (int i = 0; i < nodes.size(); i++) {
            Node node = nodes.get(i);
            Value out = node.output();
            Tensor src = values[node.inputs().get(0).id()];
            if (isView(node)) {
                Op.SliceChannels slice = (Op.SliceChannels) node.op();
                int inner = src.size() / src.shape().dim(1);
                values[out.id()] = src.view(slice.start() * inner, out.shape());
            } else if (aliases[i]) { // an activation applied in place by its producer
                values[out.id()] = src;
            } else {
                owned[out.id()] = pool.take(out.shape().size());
                values[out.id()] = Tensor.wrap(out.shape(), owned[out.id()]);
            }
            im2colFloats = Math.max(im2colFloats, im2colFloats(node));
            scoreFloats = Math.max(scoreFloats, scoreFloats(node));
            for (Value dead : releases.get(i)) {
                if (owned[dead.id()] != null) pool.give(owned[dead.id()]);
            }
        }
        this.scratch = new CpuKernels.Scratch(Tensor.allocateFloats(im2colFloats), Tensor.allocateFloats(scoreFloats));
    }

    /**
     * Activations that can run inside the op producing their input (saving a pass over memory):
     * the producer is a conv, norm, SPADE or add whose output nothing else reads.
     * Returns, per node index, the activation to apply at its end (or null).
     */
    private static Op.Activation[] fuseActivations(ModelGraph graph, boolean[] observed) {
        List<Node> nodes = graph.nodes();
        int[] readers = new int[graph.valueCount()];
        int[] producer = new int[graph.valueCount()];
        Arrays.fill(producer, -1);
        for (int i = 0; i < nodes.size(); i++) {
            producer[nodes.get(i).output().id()] = i;
            for (Value in : nodes.get(i).inputs()) readers[in.id()]++;
        }
        Op.Activation[] fused = new Op.Activation[nodes.size()];
        for (Node n : nodes) {
            if (!(n.op() instanceof Op.Activation act)) continue;
            Value in = n.inputs().get(0);
            int p = producer[in.id()];
            if (p < 0 || readers[in.id()] != 1 || in.id() == graph.output().id() || observed[in.id()] || fused[p] != null) continue;
            Op op = nodes.get(p).op();
            boolean fusable = op instanceof Op.Conv2d || op instanceof Op.GroupNorm || op instanceof Op.BatchNorm
                    || op instanceof Op.Spade || op instanceof Op.Add;
            if (fusable && !isView(nodes.get(p))) fused[p] = act;
        }
        return fused;
    }

    /** Whether node {@code i} is an activation that its producer applies. */
    private boolean isFusedAway(int i) {
        Node n = graph.nodes().get(i);
        if (!(n.op() instanceof Op.Activation)) return false;
        for (int p = 0; p < i; p++) {
            if (fused[p] == n.op() && graph.nodes().get(p).output().id() == n.inputs().get(0).id()) return true;
        }
        return false;
    }

    public ModelGraph graph() {
        return graph;
    }

    /** When on, {@link #run} adds each node's wall time to {@link #nanosByOp()} (for benchmarks). */
    public void setProfiling(boolean on) {
        profiling = on;
    }

    /** Accumulated wall time per op type (simple class name) over the profiled runs. */
    public Map<String, Long> nanosByOp() {
        return Collections.unmodifiableMap(new TreeMap<>(nanosByOp));
    }

    public void resetProfile() {
        nanosByOp.clear();
    }

    /**
     * Evaluates the graph on {@code inputs} (one per graph input, in order) and returns a fresh copy
     * of the output.
     *
     * @throws InvalidInputException if an input's shape differs from the graph's or holds NaN or Inf
     */
    public Tensor run(Tensor... inputs) {
        return run(null, inputs);
    }

    /** Called after each node, while its inputs and output are still intact. */
    public interface NodeObserver {
        void afterNode(Node node, Function<Value, Tensor> values);
    }

    /** {@link #run(Tensor...)}, telling {@code observer} (if not null) after each node. */
    public Tensor run(@Nullable NodeObserver observer, Tensor... inputs) {
        List<Value> declared = graph.inputs();
        if (inputs.length != declared.size()) {
            throw new InvalidInputException(graph.name() + " takes " + declared.size() + " inputs, got " + inputs.length);
        }
        for (int i = 0; i < inputs.length; i++) {
            Shape expected = declared.get(i).shape();
            if (!inputs[i].shape().equals(expected)) {
                throw new InvalidInputException(graph.name() + " input " + i + " has shape " + inputs[i].shape()
                        + ", expected " + expected);
            }
            requireFinite(inputs[i], graph.name() + " input " + i);
            values[declared.get(i).id()] = inputs[i];
        }
        for (int i = 0; i < graph.nodes().size(); i++) {
            Node node = graph.nodes().get(i);
            long start = profiling ? System.nanoTime() : 0;
            execute(i);
            if (profiling) nanosByOp.merge(node.op().getClass().getSimpleName(), System.nanoTime() - start, Long::sum);
            if (observer != null) observer.afterNode(node, v -> values[v.id()]);
        }
        Tensor result = Tensor.zeros(graph.output().shape());
        result.copyFrom(values[graph.output().id()]);
        return result;
    }

    private void execute(int index) {
        if (aliases[index]) return;
        Node node = graph.nodes().get(index);
        Tensor[] in = new Tensor[node.inputs().size()];
        for (int i = 0; i < in.length; i++) in[i] = values[node.inputs().get(i).id()];
        CpuKernels.run(node.op(), in, values[node.output().id()], scratch, fused[index]);
    }

    static void requireFinite(Tensor t, String what) {
        FloatBuffer d = t.data();
        for (int i = 0, n = t.size(); i < n; i++) {
            if (!Float.isFinite(d.get(i))) {
                throw new InvalidInputException(what + " holds " + d.get(i) + " at flat index " + i + "; inputs must be finite");
            }
        }
    }

    /** A slice of a single-sample value is a contiguous range of its parent: share the memory. */
    private static boolean isView(Node node) {
        return node != null && node.op() instanceof Op.SliceChannels && node.inputs().get(0).shape().dim(0) == 1;
    }

    /**
     * For each node (by index), the values no longer needed once it has run. An alias (a view, or a
     * fused activation) keeps its parent alive while the alias is read; the graph output is never released; graph inputs belong to the caller.
     */
    private static List<List<Value>> releasesAfterEachNode(ModelGraph graph, boolean[] aliases) {
        List<Node> nodes = graph.nodes();
        int[] lastReader = new int[graph.valueCount()];
        Arrays.fill(lastReader, -1);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            int until = aliases[i] ? Math.max(i, lastReader[n.output().id()]) : i;
            for (Value in : n.inputs()) lastReader[in.id()] = Math.max(lastReader[in.id()], until);
        }
        List<List<Value>> releases = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) releases.add(new ArrayList<>());
        for (int i = 0; i < nodes.size(); i++) {
            Value v = nodes.get(i).output();
            if (v.id() == graph.output().id()) continue;
            releases.get(Math.max(i, lastReader[v.id()])).add(v);
        }
        return releases;
    }

    static int im2colFloats(Node node) {
        if (!(node.op() instanceof Op.Conv2d c)) return 0;
        Shape y = node.output().shape();
        int k = c.inChannels() * c.kernelH() * c.kernelW();
        int rows = Math.max(1, Math.min(y.h(), CpuKernels.IM2COL_PANEL_FLOATS / (k * y.w())));
        return k * rows * y.w();
    }

    static int scoreFloats(Node node) {
        if (!(node.op() instanceof Op.SelfAttention)) return 0;
        int tokens = node.inputs().get(0).shape().h() * node.inputs().get(0).shape().w();
        return tokens * tokens;
    }
}
