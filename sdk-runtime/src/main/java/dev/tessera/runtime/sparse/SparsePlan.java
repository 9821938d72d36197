package dev.tessera.runtime.sparse;

import dev.tessera.runtime.graph.DenseSchedule;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.tensor.Shape;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * How one edit is computed: a list of steps over a graph's values that any backend executes. A
 * value in the sparse pass is either unchanged (read from the activation cache), full (a whole
 * map), or tiled (a batch of tiles in some {@link TileGeometry}); the steps move values between
 * those forms and run nodes on full maps or on tiles.
 */
public final class SparsePlan {

    /** One step of the plan. */
    public sealed interface Step {}

    /** A step that runs a node, and with it the {@code activation} node that only reads its output, if any. */
    public sealed interface NodeStep extends Step {
        Node node();

        @Nullable Node activation();

        /** The value this step yields: the activation's output when one is fused, else the node's. */
        default Value result() {
            return activation() != null ? activation().output() : node().output();
        }

        default Op.@Nullable Activation act() {
            return activation() != null ? (Op.Activation) activation().op() : null;
        }
    }

    /**
     * Tiles of {@code value} in {@code geometry}, read from {@code source}: the value itself, or, when
     * {@code value} is a nearest resize of {@code source}, its input read through the index map. A
     * source held as tiles in {@code tiles} (not null) reads those where they cover the pixel and its
     * cached map elsewhere; otherwise it reads its full or cached map. Where each pixel reads is the
     * plan's {@link #index(Step)}. On the way the step may apply, in this order: an {@code add} node
     * that reads the value and either a per-channel [N, C] vector or a second map (read through
     * {@link #addIndex(Step)}, over its tiles in {@code addTiles} where not null, like the first), or
     * a SPADE node that modulates the value by a second map of gamma and beta ({@link #modulates()}); a
     * {@code norm} (a group norm applying its cached affine); an {@code activation}. It then yields
     * the last one's tiles instead; padding stays zero.
     */
    public record Gather(Value value, TileGeometry geometry, Value source, @Nullable TileGeometry tiles, @Nullable Node add,
            @Nullable TileGeometry addTiles, @Nullable Node norm, @Nullable Node activation) implements Step {
        /** Whether {@code add} is a SPADE node: the value's batch norm, times 1 + gamma, plus beta (its second map, 2C channels). */
        public boolean modulates() {
            return add != null && add.op() instanceof Op.Spade;
        }

        /** The value whose tiles this step yields. */
        public Value result() {
            return activation != null ? activation.output() : norm != null ? norm.output() : add != null ? add.output() : value;
        }

        /** The add's other input, or null. */
        private @Nullable Value addend() {
            if (add == null) return null;
            return add.inputs().get(0) == value ? add.inputs().get(1) : add.inputs().get(0);
        }

        /** The add's other input when it is a map (read through {@link SparsePlan#addIndex}), or null. */
        public @Nullable Value addedMap() {
            Value b = addend();
            return b != null && b.shape().rank() == 4 ? b : null;
        }

        /** The add's other input when it is a per-channel [N, C] vector, or null. */
        public @Nullable Value addedVector() {
            Value b = addend();
            return b != null && b.shape().rank() == 2 ? b : null;
        }

        public Op.@Nullable Activation act() {
            return activation != null ? (Op.Activation) activation.op() : null;
        }
    }

    /** The full map of a tiled value: its cached full-pass map with its tiles written over it. */
    public record Scatter(Value value, TileGeometry geometry) implements Step {}

    /**
     * A node on full maps, as in the full pass, except that a group norm not run in full mode
     * applies the affine cached by the full pass instead of recomputing statistics. With an
     * {@code activation} node (one that only reads this node's output), the step applies it too and
     * yields its output instead (one pass over memory instead of two). With an {@code add} node (a
     * conv's {@linkplain DenseSchedule#fusedAddNode fused add}), the step adds the add's other
     * input to the conv's output and yields the add's output.
     */
    public record RunFull(Node node, boolean cachedNorm, @Nullable Node activation, @Nullable Node add) implements NodeStep {
        public RunFull(Node node, boolean cachedNorm) {
            this(node, cachedNorm, null, null);
        }

        @Override
        public Value result() {
            return add != null ? add.output() : NodeStep.super.result();
        }

        /** The fused add's input that the node does not produce, or null. */
        public @Nullable Value addend() {
            return add != null ? DenseSchedule.addend(add, node) : null;
        }
    }

    /**
     * A node on tiles: inputs in {@code in} (per-channel [N, C] inputs stay full; attention reads
     * its qkv full), output in {@code out} ({@code in} itself for pointwise ops). A fused
     * {@code activation} works as in {@link RunFull}.
     */
    public record RunTiles(Node node, TileGeometry in, TileGeometry out, long macs, @Nullable Node activation) implements NodeStep {
        public RunTiles(Node node, TileGeometry in, TileGeometry out, long macs) {
            this(node, in, out, macs, null);
        }
    }

    /**
     * Whether a pointwise step on tiles must set its output's padding pixels (outside the map) back to
     * zero, as the convs that read them expect: when its tiles have any, and its op does not keep
     * zero inputs zero (activations, adds of two tiled values and concats do; affines do not).
     */
    public static boolean needsZeroPadding(RunTiles step) {
        Op op = step.node().op();
        boolean keepsZero = op instanceof Op.Activation || op instanceof Op.Concat
                || (op instanceof Op.Add && step.node().inputs().stream().allMatch(v -> v.shape().rank() == 4));
        return step.in().hasPadding() && !keepsZero;
    }

    /**
     * Whether a step's result shares its first input's memory (a channel slice of tiles, or of a
     * full map that is a {@linkplain DenseSchedule#isView view} and applies no activation): no kernel runs.
     */
    public static boolean isView(Step step) {
        if (step instanceof RunTiles t) return t.node().op() instanceof Op.SliceChannels;
        return step instanceof RunFull f && DenseSchedule.isView(f.node()) && f.act() == null;
    }

    /** What a step does, for profiles: gather, scatter, tile conv, tile attention, tile pointwise, full OP. */
    public static String kind(Step step) {
        if (step instanceof Gather g) {
            return g.source() != g.value() ? "gather (through resize)" : g.tiles() != null ? "gather (over tiles)" : "gather";
        }
        if (step instanceof Scatter) return "scatter";
        if (step instanceof RunFull f) return "full " + f.node().op().getClass().getSimpleName();
        Op op = ((RunTiles) step).node().op();
        if (op instanceof Op.Conv2d) return "tile conv";
        if (op instanceof Op.SelfAttention) return "tile attention";
        return "tile pointwise";
    }

    private final ModelGraph graph;
    private final List<Step> steps;
    private final long sparseMacs;
    private final Map<Step, int[]> indexes = new IdentityHashMap<>();
    private final Map<Step, int[]> addIndexes = new IdentityHashMap<>();
    private final int indexInts;

    /** The plan of an edit that changes nothing: the output is the cached original, bit for bit. */
    public static SparsePlan noChange(ModelGraph graph) {
        return new SparsePlan(graph, Collections.emptyList());
    }

    /** Whether this plan leaves everything as the full pass computed it (no steps). */
    public boolean isNoChange() {
        return steps.isEmpty();
    }

    SparsePlan(ModelGraph graph, List<Step> steps) {
        this.graph = graph;
        this.steps = Collections.unmodifiableList(new ArrayList<>(steps));
        long macs = 0;
        for (Step s : steps) {
            if (s instanceof RunTiles t) macs += t.macs();
            else if (s instanceof RunFull f) macs += f.node().macs();
        }
        this.sparseMacs = macs;
        int ints = 0;
        for (Step s : steps) {
            int[] index = null;
            if (s instanceof Gather g) {
                index = gatherIndex(g.geometry(), g.value(), g.source(), g.tiles());
            } else if (s instanceof RunTiles t && t.node().op() instanceof Op.SelfAttention) { // its queries
                index = GatherIndex.fromMap(t.out(), t.out().width(), null, null);
            }
            if (index == null) continue;
            indexes.put(s, index);
            ints += index.length;
            if (s instanceof Gather g && g.addedMap() != null) {
                int[] second = gatherIndex(g.geometry(), g.addedMap(), g.addedMap(), g.addTiles());
                addIndexes.put(s, second);
                ints += second.length;
            }
        }
        this.indexInts = ints;
    }

    /**
     * Where each pixel of tiles {@code geometry} reads {@code value}: over its tiles in {@code tiles}
     * (not null) and its cached map, else from its map, or through the nearest resize of {@code source}.
     */
    private static int[] gatherIndex(TileGeometry geometry, Value value, Value source, @Nullable TileGeometry tiles) {
        if (tiles != null) return GatherIndex.fromTiles(tiles, geometry);
        Shape src = source.shape();
        return source != value ? GatherIndex.fromResize(geometry, src.h(), src.w()) : GatherIndex.fromMap(geometry, src.w(), null, null);
    }

    /**
     * Where each tile pixel of a {@link Gather} (or of the queries of a tile attention) reads its
     * value ({@link GatherIndex}); built with the plan, shared by every pass. Callers must not modify it.
     */
    public int[] index(Step step) {
        return lookup(indexes, step, "gather index");
    }

    /** Every step's index map, by step. Callers must not modify them. */
    public Map<Step, int[]> indexes() {
        return Collections.unmodifiableMap(indexes);
    }

    /** Where each tile pixel of a {@link Gather} reads its add's second map ({@link GatherIndex}). */
    public int[] addIndex(Step step) {
        return lookup(addIndexes, step, "second gather index");
    }

    private static int[] lookup(Map<Step, int[]> indexes, Step step, String what) {
        int[] index = indexes.get(step);
        if (index == null) throw new IllegalArgumentException("no " + what + " for " + step);
        return index;
    }

    /** The second index maps of gathers that add a second map, by step. Callers must not modify them. */
    public Map<Step, int[]> addIndexes() {
        return Collections.unmodifiableMap(addIndexes);
    }

    /** The length of all index maps together, second ones included (for one upload to a device). */
    public int indexInts() {
        return indexInts;
    }

    public ModelGraph graph() {
        return graph;
    }

    public List<Step> steps() {
        return steps;
    }

    /** Multiply-accumulates of a dense pass of the graph. */
    public long denseMacs() {
        return graph.macs();
    }

    /** Multiply-accumulates of this plan. */
    public long sparseMacs() {
        return sparseMacs;
    }

    @Override
    public String toString() {
        return "SparsePlan(" + steps.size() + " steps, " + sparseMacs + " of " + denseMacs() + " MACs)";
    }
}
