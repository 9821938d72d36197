package dev.tessera.runtime.cpu;

import dev.tessera.runtime.backend.Inputs;
import dev.tessera.runtime.backend.StepProfile;
import dev.tessera.runtime.graph.DenseSchedule;
import dev.tessera.InvalidInputException;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.List;
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
    private final DenseSchedule schedule;
    private final StepProfile profile = new StepProfile();

    public CpuExecutor(ModelGraph graph) {
        this(graph, new boolean[graph.valueCount()]);
    }

    /**
     * @param observed values (by id) an observer must see as their op computed them, so no
     *     activation or add is fused into their producer
     */
    public CpuExecutor(ModelGraph graph, boolean[] observed) {
        this.graph = graph;
        this.values = new Tensor[graph.valueCount()];
        List<Node> nodes = graph.nodes();
        this.schedule = new DenseSchedule(graph, observed);
        FloatBuffer[] owned = new FloatBuffer[graph.valueCount()];
        BufferPool pool = new BufferPool();
        int im2colFloats = 1, scoreFloats = 1;
        for (int i = 0; i < nodes.size(); i++) {
            Node node = nodes.get(i);
            Value out = node.output();
            Tensor src = values[node.inputs().get(0).id()];
            if (DenseSchedule.isView(node)) {
                Op.SliceChannels slice = (Op.SliceChannels) node.op();
                int inner = src.size() / src.shape().dim(1);
                values[out.id()] = src.view(slice.start() * inner, out.shape());
            } else if (schedule.isAlias(i)) { // an activation or add applied in place by its producer
                values[out.id()] = values[schedule.aliased(i).id()];
            } else {
                owned[out.id()] = pool.take(out.shape().size());
                values[out.id()] = Tensor.wrap(out.shape(), owned[out.id()]);
            }
            im2colFloats = Math.max(im2colFloats, im2colFloats(node));
            scoreFloats = Math.max(scoreFloats, scoreFloats(node));
            for (Value dead : schedule.releasedAfter(i)) {
                if (owned[dead.id()] != null) pool.give(owned[dead.id()]);
            }
        }
        this.scratch = new CpuKernels.Scratch(Tensor.allocateFloats(im2colFloats), Tensor.allocateFloats(scoreFloats));
    }

    public ModelGraph graph() {
        return graph;
    }

    /** While enabled, {@link #run} adds each node's wall time under its op type (simple class name). */
    public StepProfile profile() {
        return profile;
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
        Inputs.checkDense(graph, inputs);
        for (int i = 0; i < inputs.length; i++) values[graph.inputs().get(i).id()] = inputs[i];
        for (int i = 0; i < graph.nodes().size(); i++) {
            Node node = graph.nodes().get(i);
            long start = profile.enabled() ? System.nanoTime() : 0;
            execute(i);
            if (profile.enabled()) profile.add(StepProfile.key(node), System.nanoTime() - start);
            if (observer != null) observer.afterNode(node, v -> values[v.id()]);
        }
        Tensor result = Tensor.zeros(graph.output().shape());
        result.copyFrom(values[graph.output().id()]);
        return result;
    }

    private void execute(int index) {
        if (schedule.isAlias(index)) return;
        Node node = graph.nodes().get(index);
        Tensor[] in = new Tensor[node.inputs().size()];
        for (int i = 0; i < in.length; i++) in[i] = values[node.inputs().get(i).id()];
        Tensor out = values[node.output().id()];
        CpuKernels.run(node.op(), in, out, scratch, schedule.fusedActivation(index));
        Node add = schedule.fusedAddNode(index);
        if (add != null) CpuKernels.run(add.op(), addInputs(add, node, out, values[DenseSchedule.addend(add, node).id()]), out, scratch, null);
    }


    /** The inputs of {@code add} fused into {@code conv}: the conv's output {@code out} where the add reads it, else {@code addend}. */
    static Tensor[] addInputs(Node add, Node conv, Tensor out, Tensor addend) {
        Tensor[] in = {out, out};
        in[DenseSchedule.addendIndex(add, conv)] = addend;
        return in;
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
