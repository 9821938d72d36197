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
import java.util.stream.Collectors;

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
    private final FloatBuffer im2col;
    private final FloatBuffer scores;
    private final Map<String, Long> nanosByOp = new TreeMap<>();
    private boolean profiling;

    public CpuExecutor(ModelGraph graph) {
        this.graph = graph;
        this.values = new Tensor[graph.valueCount()];
        List<List<Value>> releases = releasesAfterEachNode(graph);
        FloatBuffer[] owned = new FloatBuffer[graph.valueCount()];
        BufferPool pool = new BufferPool();
        int im2colFloats = 1, scoreFloats = 1;
        for (int i = 0; i < graph.nodes().size(); i++) {
            Node node = graph.nodes().get(i);
            Value out = node.output();
            if (isView(node)) {
                Op.SliceChannels slice = (Op.SliceChannels) node.op();
                Tensor src = values[node.inputs().get(0).id()];
                int inner = src.size() / src.shape().dim(1);
                values[out.id()] = src.view(slice.start() * inner, out.shape());
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
        this.im2col = Tensor.allocateFloats(im2colFloats);
        this.scores = Tensor.allocateFloats(scoreFloats);
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
        for (Node node : graph.nodes()) {
            if (!profiling) {
                execute(node);
                continue;
            }
            long start = System.nanoTime();
            execute(node);
            nanosByOp.merge(node.op().getClass().getSimpleName(), System.nanoTime() - start, Long::sum);
        }
        Tensor result = Tensor.zeros(graph.output().shape());
        result.copyFrom(values[graph.output().id()]);
        return result;
    }

    private void execute(Node node) {
        Op op = node.op();
        Tensor out = values[node.output().id()];
        Tensor x = values[node.inputs().get(0).id()];
        if (op instanceof Op.Conv2d c) CpuKernels.conv2d(c, x, out, im2col);
        else if (op instanceof Op.GroupNorm gn) CpuKernels.groupNorm(gn, x, out);
        else if (op instanceof Op.BatchNorm bn) CpuKernels.batchNorm(bn, x, out);
        else if (op instanceof Op.Spade sp) CpuKernels.spade(sp, x, input(node, 1), out);
        else if (op instanceof Op.Activation a) CpuKernels.activation(a, x, out);
        else if (op instanceof Op.ResizeNearest) CpuKernels.resizeNearest(x, out);
        else if (op instanceof Op.SelfAttention) CpuKernels.selfAttention(x, out, scores);
        else if (op instanceof Op.Linear l) CpuKernels.linear(l, x, out);
        else if (op instanceof Op.TimestepEmbedding te) CpuKernels.timestepEmbedding(te, x, out);
        else if (op instanceof Op.Concat) CpuKernels.concat(node.inputs().stream().map(v -> values[v.id()]).collect(Collectors.toList()), out);
        else if (op instanceof Op.Add) CpuKernels.add(x, input(node, 1), out);
        else if (op instanceof Op.SliceChannels s) {
            if (!isView(node)) CpuKernels.sliceChannels(s, x, out);
        } else {
            throw new IllegalStateException("no CPU kernel for " + op);
        }
    }

    private Tensor input(Node node, int i) {
        return values[node.inputs().get(i).id()];
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
     * For each node (by index), the values no longer needed once it has run. A view keeps its parent
     * alive while the view is read; the graph output is never released; graph inputs belong to the caller.
     */
    private static List<List<Value>> releasesAfterEachNode(ModelGraph graph) {
        List<Node> nodes = graph.nodes();
        int[] lastReader = new int[graph.valueCount()];
        Arrays.fill(lastReader, -1);
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            int until = isView(n) ? Math.max(i, lastReader[n.output().id()]) : i;
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

    private static int im2colFloats(Node node) {
        if (!(node.op() instanceof Op.Conv2d c)) return 0;
        Shape y = node.output().shape();
        int k = c.inChannels() * c.kernelH() * c.kernelW();
        int rows = Math.max(1, Math.min(y.h(), CpuKernels.IM2COL_PANEL_FLOATS / (k * y.w())));
        return k * rows * y.w();
    }

    private static int scoreFloats(Node node) {
        if (!(node.op() instanceof Op.SelfAttention)) return 0;
        int tokens = node.inputs().get(0).shape().h() * node.inputs().get(0).shape().w();
        return tokens * tokens;
    }

    /** Free buffers by capacity; {@link #take} returns the smallest that fits, else allocates. */
    private static final class BufferPool {
        private final List<FloatBuffer> free = new ArrayList<>();

        FloatBuffer take(int floats) {
            FloatBuffer best = null;
            for (FloatBuffer b : free) {
                if (b.capacity() >= floats && (best == null || b.capacity() < best.capacity())) best = b;
            }
            if (best == null) return Tensor.allocateFloats(floats);
            free.remove(best);
            return best;
        }

        void give(FloatBuffer b) {
            free.add(b);
        }
    }
}
