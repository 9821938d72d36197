package dev.tessera.runtime.sparse;

import dev.tessera.InvalidInputException;
import dev.tessera.runtime.graph.DenseSchedule;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.mask.ActiveBlocks;
import dev.tessera.runtime.mask.BlockKey;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.sparse.SparsePlan.Gather;
import dev.tessera.runtime.sparse.SparsePlan.RunFull;
import dev.tessera.runtime.sparse.SparsePlan.RunTiles;
import dev.tessera.runtime.sparse.SparsePlan.Scatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Rewrites a dense graph into a {@link SparsePlan} for one edit.
 *
 * <p>Eligible convolutions run on the gathered active blocks of their input, without padding.
 * Everything else follows from what each value's readers need (its <em>demand</em>, found walking
 * the graph backwards): a pointwise node whose output is needed only as tiles runs on the tiles of
 * each geometry its readers need (once per geometry: pointwise work on tiles is cheap next to a
 * full map), so normalizations, activations, residual adds and concats never touch a full map
 * there, and a norm, activation, add or SPADE that reads a gathered value runs inside the gather; a
 * nearest resize needed only as tiles is read through its index map (where a reader first needs its
 * tiles) instead of being materialized;
 * attention whose output is needed as tiles computes queries for those tiles only; a pointwise node
 * needed whole (by a resize, attention or a full-mode node) whose changes lie inside a sparse conv's
 * output tiles runs on those tiles and is scattered into its cached map; all other nodes run on full
 * maps, and a tiled value needed full is scattered into its cached map. Values that do
 * not depend on the edited inputs are not computed at all: the cache holds them.
 *
 * <p>A conv the policy keeps exact (a full-mode node) still runs on tiles when its input can only
 * differ from the cached map inside other sparse convs' output tiles: its tiles are then the blocks
 * that touch that region, which gives exactly the dense conv's output for a fraction of its work.
 */
public final class SparsePlanner {
    /** Demand marker for "the whole map". */
    private static final Object FULL = "full";

    private final ModelGraph graph;
    private final SparsePolicy policy;
    private final boolean[] changed;
    private final Map<Value, Node> producer = new HashMap<>();
    private final Map<Value, List<Node>> readers = new HashMap<>();
    /** The activation node the dense schedule runs inside each producer (never one whose output the cache needs). */
    private final Map<Node, Node> fusedActivation = new HashMap<>();
    private final Map<Node, Node> fusedAdd = new HashMap<>();

    /**
     * @param editableInputs indices of graph inputs that differ between original and edit; values
     *     that depend on none of them are taken from the cache
     */
    public SparsePlanner(ModelGraph graph, SparsePolicy policy, int... editableInputs) {
        this.graph = graph;
        this.policy = policy;
        this.changed = new boolean[graph.valueCount()];
        for (int i : editableInputs) changed[graph.inputs().get(i).id()] = true;
        for (Node n : graph.nodes()) {
            for (Value in : n.inputs()) {
                changed[n.output().id()] |= changed[in.id()];
                readers.computeIfAbsent(in, v -> new ArrayList<>()).add(n);
            }
            producer.put(n.output(), n);
        }
        DenseSchedule schedule = new DenseSchedule(graph, cachedValues());
        for (int i = 0; i < graph.nodes().size(); i++) {
            Node act = schedule.fusedActivationNode(i), add = schedule.fusedAddNode(i);
            if (act != null) fusedActivation.put(graph.nodes().get(i), act);
            if (add != null) fusedAdd.put(graph.nodes().get(i), add);
        }
    }

    public ModelGraph graph() {
        return graph;
    }

    public SparsePolicy policy() {
        return policy;
    }

    /** Whether {@code v} depends on an edited input (else the sparse pass reads it from the cache). */
    public boolean changed(Value v) {
        return changed[v.id()];
    }

    /**
     * Whether the conv node may run sparse under the policy, whatever the mask: the values the full
     * pass must cache are the outputs of these nodes (the bases their tiles are scattered into).
     */
    public boolean sparseEligible(Node node) {
        return sparseShape(node) && !policy.fullModeNodes().contains(node.name());
    }

    /**
     * Whether the conv node may run on the tiles around where its input changed: a full-mode conv
     * whose input is computed from sparse convs' outputs by pointwise ops only, so that it can differ
     * from the cached map only inside their tiles. Its output is then cached as well (a scatter base).
     */
    public boolean exactEligible(Node node) {
        return sparseShape(node) && policy.fullModeNodes().contains(node.name()) && boundedByTiles(node.inputs().get(0));
    }

    private boolean sparseShape(Node node) {
        if (!(node.op() instanceof Op.Conv2d) || !changed[node.output().id()]) return false;
        return node.inputs().get(0).shape().h() >= policy.minSparseHeight() && node.inputs().get(0).shape().n() == 1;
    }

    /** Whether {@code v} can differ from its cached map only inside the output tiles of sparse convs. */
    private boolean boundedByTiles(Value v) {
        if (!changed[v.id()]) return true;
        Node p = producer.get(v);
        if (p == null) return false; // an edited input
        if (sparseEligible(p)) return true;
        if (!isPointwise(p)) return false;
        for (Value in : p.inputs()) if (!isPerChannel(p, in) && !boundedByTiles(in)) return false;
        return true;
    }

    /**
     * Whether the output of pointwise node {@code n} is cached so that sparse passes can run it on
     * tiles and scatter them into the cached map, although a reader always reads it whole (a nearest
     * resize, attention, a full-mode node): its input changes only inside sparse convs' tiles. Without
     * the base the node would run on the whole map, reading its inputs scattered into theirs.
     */
    private boolean tiledScatterBase(Node n) {
        if (!isPointwise(n) || !changed[n.output().id()] || !boundedByTiles(n.output())) return false;
        for (Node r : readers.getOrDefault(n.output(), Collections.emptyList())) {
            if (!isPointwise(r) && !sparseEligible(r) && !exactEligible(r)) return true;
        }
        return false;
    }

    /**
     * The tiles a pointwise node needed whole runs on instead, to be scattered into its cached map:
     * the output tiles of a sparse conv it reads, if they cover every pixel where its output can
     * differ from the cache; null if there are none (it runs on the whole map).
     */
    private @Nullable TileGeometry scatterTiles(Node n, Map<Node, TileGeometry> convIn, Map<Value, boolean[]> regions) {
        if (!tiledScatterBase(n)) return null;
        boolean[] region = changedRegion(n.output(), convIn, regions);
        if (region == null) return null;
        for (Value in : n.inputs()) {
            Node p = producer.get(in);
            if (p == null || !convIn.containsKey(p)) continue;
            TileGeometry o = convOutput(p, convIn.get(p));
            if (covers(o, region)) return o;
        }
        return null;
    }

    /** Whether the tiles of {@code g} cover every marked pixel of {@code region} (a map of g's size). */
    private static boolean covers(TileGeometry g, boolean[] region) {
        boolean[] covered = new boolean[region.length];
        mark(g, covered);
        for (int i = 0; i < region.length; i++) if (region[i] && !covered[i]) return false;
        return true;
    }

    /** Marks the pixels of the map that the tiles of {@code g} cover. */
    private static void mark(TileGeometry g, boolean[] map) {
        int h = g.height(), w = g.width();
        for (int t = 0; t < g.count(); t++) {
            for (int y = Math.max(0, g.row(t)); y < Math.min(h, g.row(t) + g.tileHeight()); y++) {
                for (int x = Math.max(0, g.col(t)); x < Math.min(w, g.col(t) + g.tileWidth()); x++) map[y * w + x] = true;
            }
        }
    }

    /** Whether the sparse pass applies this group norm's cached affine rather than recomputing statistics. */
    public boolean usesCachedNorm(Node node) {
        return node.op() instanceof Op.GroupNorm && changed[node.output().id()]
                && !policy.fullModeNodes().contains(node.name());
    }

    /**
     * The values (by id) a full pass must cache for sparse passes: the graph output, inputs no edit
     * changes, the outputs of sparse-eligible convs and of {@link #tiledScatterBase} pointwise nodes
     * (scatter bases), and unchanged values that changed nodes read.
     */
    public boolean[] cachedValues() {
        boolean[] cached = new boolean[graph.valueCount()];
        cached[graph.output().id()] = true;
        for (Value in : graph.inputs()) cached[in.id()] = !changed(in);
        for (Node n : graph.nodes()) {
            if (sparseEligible(n) || exactEligible(n) || tiledScatterBase(n)) cached[n.output().id()] = true;
            if (!changed(n.output())) continue;
            for (Value in : n.inputs()) if (!changed(in)) cached[in.id()] = true;
        }
        return cached;
    }

    /** Exact bytes a full pass puts in a cache of this precision: cached maps plus group-norm affines. */
    public long cacheBytes(ActivationCache.Precision precision) {
        boolean[] cached = cachedValues();
        long floats = 0;
        for (int id = 0; id < cached.length; id++) if (cached[id]) floats += graph.valueById(id).shape().size();
        long affineFloats = 0;
        for (Node n : graph.nodes()) if (usesCachedNorm(n)) affineFloats += 2L * n.output().shape().c();
        return floats * (precision == ActivationCache.Precision.FP32 ? Float.BYTES : 2) + affineFloats * Float.BYTES;
    }

    /** The block key of an eligible conv. */
    public BlockKey blockKey(Node node) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        Value x = node.inputs().get(0);
        int b = policy.blockSize(c.kernelH());
        return BlockKey.forConv(x.shape().h(), x.shape().w(), c.kernelH(), c.kernelW(), c.stride(), c.stride(),
                c.padding().top(), c.padding().left(), b, b);
    }

    /**
     * The plan of one edit, from its masks. (An edit whose difference mask is empty needs no plan:
     * use {@link SparsePlan#noChange}.)
     *
     * @throws InvalidInputException if the masks lack the resolution of a conv that runs sparse
     */
    public SparsePlan plan(BlockSets blocks) {
        List<Node> nodes = graph.nodes();
        Map<Node, TileGeometry> convIn = new HashMap<>();
        for (Node n : nodes) {
            if (!sparseEligible(n)) continue;
            Value x = n.inputs().get(0);
            if (!blocks.masks().contains(x.shape().h(), x.shape().w())) {
                throw new InvalidInputException("the edit's masks have no " + x.shape().h() + "x" + x.shape().w()
                        + " level for " + n.name() + "; they have " + blocks.masks().resolutions());
            }
            ActiveBlocks active = blocks.get(blockKey(n));
            if (active.fraction() <= policy.maxActiveFraction()) convIn.put(n, TileGeometry.of(active));
        }
        Map<Value, boolean[]> regions = new HashMap<>();
        for (Node n : nodes) {
            if (!exactEligible(n)) continue;
            Value x = n.inputs().get(0);
            boolean[] region = changedRegion(x, convIn, regions);
            if (region == null) continue;
            ActiveBlocks active = ActiveBlocks.of(Mask.of(x.shape().h(), x.shape().w(), region), blockKey(n));
            if (active.fraction() <= policy.maxActiveFraction()) convIn.put(n, TileGeometry.of(active));
        }

        // Backwards: what each value's readers need.
        List<Set<Object>> demand = new ArrayList<>();
        for (int i = 0; i < graph.valueCount(); i++) demand.add(new LinkedHashSet<>());
        demand.get(graph.output().id()).add(FULL);
        Map<Node, Object> mode = new HashMap<>();
        for (int i = nodes.size() - 1; i >= 0; i--) {
            Node n = nodes.get(i);
            Set<Object> d = demand.get(n.output().id());
            if (!changed[n.output().id()] || d.isEmpty()) continue;
            Object single = d.size() == 1 ? d.iterator().next() : FULL;
            Object m;
            TileGeometry base = isPointwise(n) && d.contains(FULL) ? scatterTiles(n, convIn, regions) : null;
            if (convIn.containsKey(n)) {
                m = convIn.get(n);
                demand.get(n.inputs().get(0).id()).add(m);
            } else if (isPointwise(n) && (!d.contains(FULL) || base != null)) {
                // once on the tiles of each geometry its readers need; needed whole, also on tiles
                // that cover its changes, last, so that they are the ones scattered into its cached map
                Set<Object> geometries = new LinkedHashSet<>(d);
                if (base != null) {
                    geometries.remove(FULL);
                    geometries.remove(base);
                    geometries.add(base);
                }
                m = geometries;
                for (Value in : n.inputs()) {
                    if (isPerChannel(n, in)) demand.get(in.id()).add(FULL);
                    else demand.get(in.id()).addAll(geometries);
                }
            } else if (n.op() instanceof Op.ResizeNearest && !d.contains(FULL)) {
                m = Op.ResizeNearest.class;
                demand.get(n.inputs().get(0).id()).add(FULL);
            } else if (single instanceof TileGeometry g && n.op() instanceof Op.SelfAttention) {
                m = g;
                demand.get(n.inputs().get(0).id()).add(FULL);
            } else {
                m = FULL;
                for (Value in : n.inputs()) demand.get(in.id()).add(FULL);
            }
            mode.put(n, m);
        }

        // Forwards: emit steps, converting forms where a reader needs another one. An activation or
        // add the dense schedule fuses into its producer is fused here too when both run in one form
        // (never into a sparse conv: the schedule fuses nothing into a value the cache holds; adds
        // only into convs on full maps).
        Emitter e = new Emitter();
        Set<Node> fusedAway = new HashSet<>();
        for (Node n : nodes) {
            Object m = mode.get(n);
            if (m == null || fusedAway.contains(n)) continue;
            Node act = fuseActivation(n, m, mode, fusedAway);
            Value out = act != null ? act.output() : n.output();
            if (convIn.containsKey(n)) {
                TileGeometry in = convIn.get(n);
                Op.Conv2d c = (Op.Conv2d) n.op();
                TileGeometry o = convOutput(n, in);
                e.tiles(n.inputs().get(0), in);
                e.steps.add(new RunTiles(n, in, o, (long) o.positions() * c.outChannels() * c.inChannels() * c.kernelH() * c.kernelW()));
                e.computed(out, o);
            } else if (m == Op.ResizeNearest.class) { // gathered through its index map where a reader first needs its tiles
                e.full(n.inputs().get(0));
                e.resized.put(out.id(), n.inputs().get(0));
            } else if (m instanceof TileGeometry g && n.op() instanceof Op.SelfAttention) {
                e.full(n.inputs().get(0));
                Value qkv = n.inputs().get(0);
                long macs = 2L * g.positions() * qkv.shape().h() * qkv.shape().w() * (qkv.shape().c() / 3);
                e.steps.add(new RunTiles(n, g, g, macs));
                e.computed(out, g);
            } else if (m instanceof Set<?> geometries) {
                Node norm = normAfterChannelAdd(n, geometries, mode, e);
                Node normAct = null;
                if (norm != null) {
                    fusedAway.add(norm);
                    normAct = fuseActivation(norm, m, mode, fusedAway);
                }
                for (Object o : geometries) {
                    TileGeometry g = (TileGeometry) o;
                    Gather fused = norm != null ? channelAddGather(n, g, norm, normAct, e) : fusedGather(n, g, act, e);
                    if (fused != null) {
                        e.steps.add(fused);
                        e.computed(fused.result(), g);
                        continue;
                    }
                    for (Value in : n.inputs()) {
                        if (isPerChannel(n, in)) e.full(in);
                        else e.tiles(in, g);
                    }
                    e.steps.add(new RunTiles(n, g, g, 0, act));
                    e.computed(out, g);
                }
            } else {
                for (Value in : n.inputs()) e.full(in);
                Node add = fusedAdd.get(n);
                if (add != null && m.equals(mode.get(add))) { // the conv's add runs full too: fused as in the dense schedule
                    fusedAway.add(add);
                    RunFull step = new RunFull(n, false, null, add);
                    e.full(step.addend());
                    e.steps.add(step);
                    e.full.add(add.output().id());
                } else {
                    e.steps.add(new RunFull(n, usesCachedNorm(n), act, null));
                    e.full.add(out.id());
                }
            }
        }
        e.full(graph.output());
        return new SparsePlan(graph, e.steps);
    }

    /**
     * The pixels where {@code v} may differ from its cached map in this plan: the union of the output
     * tiles of the sparse convs it is computed from (through pointwise ops); null if that is not
     * known (a conv on its way runs dense). Memoized in {@code regions}.
     */
    private boolean @Nullable [] changedRegion(Value v, Map<Node, TileGeometry> convIn, Map<Value, boolean[]> regions) {
        if (regions.containsKey(v)) return regions.get(v);
        int h = v.shape().h(), w = v.shape().w();
        boolean[] region = new boolean[h * w];
        Node p = producer.get(v);
        if (!changed[v.id()]) {
            // unchanged everywhere
        } else if (p != null && sparseEligible(p)) {
            TileGeometry in = convIn.get(p);
            if (in == null) {
                region = null;
            } else {
                mark(convOutput(p, in), region);
            }
        } else if (p != null && isPointwise(p)) {
            for (Value in : p.inputs()) {
                if (isPerChannel(p, in)) continue;
                boolean[] r = changedRegion(in, convIn, regions);
                if (r == null) {
                    region = null;
                    break;
                }
                for (int i = 0; i < region.length; i++) region[i] |= r[i];
            }
        } else {
            region = null;
        }
        regions.put(v, region);
        return region;
    }

    /** The output tiles of a sparse conv over the input tiles {@code in}. */
    private static TileGeometry convOutput(Node n, TileGeometry in) {
        Op.Conv2d c = (Op.Conv2d) n.op();
        Value out = n.output();
        return in.convOutput(out.shape().h(), out.shape().w(), c.kernelH(), c.kernelW(), c.stride(), c.padding().top(), c.padding().left());
    }

    /**
     * The activation node the dense schedule runs inside {@code n}, when it runs in the same form
     * {@code m} here too (then it is fused away); null otherwise.
     */
    private @Nullable Node fuseActivation(Node n, Object m, Map<Node, Object> mode, Set<Node> fusedAway) {
        Node act = fusedActivation.get(n);
        if (act == null || !m.equals(mode.get(act))) return null;
        fusedAway.add(act);
        return act;
    }

    /**
     * The gather that runs the pointwise node {@code n} (with its fused activation {@code act}) on
     * tiles {@code g} on the way, or null: an activation or a group norm applying its cached affine
     * whose input has no tiles in {@code g} yet, or an add of two maps or a SPADE modulation (of x by
     * its gamma_beta) neither of whose inputs has (the second not a resize: a gather reads only its
     * first input through one). (Another reader of those inputs in {@code g} gets a plain gather of
     * its own.)
     */
    private @Nullable Gather fusedGather(Node n, TileGeometry g, @Nullable Node act, Emitter e) {
        Value a = n.inputs().get(0);
        if (n.op() instanceof Op.Activation || usesCachedNorm(n)) {
            if (e.has(a, g)) return null;
            boolean norm = usesCachedNorm(n);
            return new Gather(a, g, e.source(a), e.tilesRead(a), null, null, norm ? n : null, norm ? act : n);
        }
        if (!(n.op() instanceof Op.Add) && !(n.op() instanceof Op.Spade)) return null;
        Value b = n.inputs().get(1);
        if (isPerChannel(n, a) || isPerChannel(n, b) || e.has(a, g) || e.has(b, g) || e.resized.containsKey(b.id())) return null;
        return new Gather(a, g, e.source(a), e.tilesRead(a), n, e.tilesRead(b), null, act);
    }

    /**
     * The cached group norm that alone reads the output of {@code n}, an add of a per-channel vector
     * to a map, and runs on the same tiles: the add, the norm and its activation then run in one
     * gather of the map on each of them (the map has no tiles there yet); null otherwise.
     */
    private @Nullable Node normAfterChannelAdd(Node n, Set<?> geometries, Map<Node, Object> mode, Emitter e) {
        if (!(n.op() instanceof Op.Add) || !isPerChannel(n, n.inputs().get(1)) || isPerChannel(n, n.inputs().get(0))) return null;
        List<Node> reading = readers.get(n.output());
        if (reading == null || reading.size() != 1 || n.output() == graph.output()) return null;
        Node norm = reading.get(0);
        if (!usesCachedNorm(norm) || !geometries.equals(mode.get(norm))) return null;
        for (Object g : geometries) if (e.has(n.inputs().get(0), (TileGeometry) g)) return null;
        return norm;
    }

    private Gather channelAddGather(Node add, TileGeometry g, Node norm, @Nullable Node act, Emitter e) {
        Value x = add.inputs().get(0);
        e.full(add.inputs().get(1));
        return new Gather(x, g, x, e.tilesRead(x), add, null, norm, act);
    }

    /** Ops that act on each pixel separately, so they commute with gathering tiles. */
    private boolean isPointwise(Node n) {
        Op op = n.op();
        return op instanceof Op.Activation || op instanceof Op.BatchNorm || op instanceof Op.Spade
                || op instanceof Op.Add || op instanceof Op.Concat || op instanceof Op.SliceChannels || usesCachedNorm(n);
    }

    /** The [N, C] operand of a per-channel add: broadcast, so it stays a full (tiny) tensor. */
    private static boolean isPerChannel(Node n, Value in) {
        return n.op() instanceof Op.Add && in.shape().rank() == 2;
    }

    private record GatherKey(int value, TileGeometry geometry) {}

    /** Tracks each value's current forms while steps are emitted. */
    private final class Emitter {
        final List<SparsePlan.Step> steps = new ArrayList<>();
        /** The geometry of each value's latest computed tiles (what a scatter writes and a gather over tiles reads). */
        final Map<Integer, TileGeometry> tiled = new HashMap<>();
        final Set<Integer> full = new HashSet<>();
        /** Every (value, geometry) that has tiles, computed or gathered. */
        final Set<GatherKey> available = new HashSet<>();
        /** The input of each nearest resize that is only gathered (by value id): its gathers read that through the index map. */
        final Map<Integer, Value> resized = new HashMap<>();

        Emitter() {
            for (Value in : graph.inputs()) full.add(in.id());
        }

        boolean has(Value v, TileGeometry g) {
            return available.contains(new GatherKey(v.id(), g));
        }

        void computed(Value v, TileGeometry g) {
            tiled.put(v.id(), g);
            available.add(new GatherKey(v.id(), g));
        }

        void full(Value v) {
            if (!changed[v.id()] || full.contains(v.id())) return;
            TileGeometry g = tiled.get(v.id());
            if (g == null) throw new IllegalStateException("no form of value " + v.id() + " to scatter");
            steps.add(new Scatter(v, g));
            full.add(v.id());
        }

        void tiles(Value v, TileGeometry g) {
            if (!available.add(new GatherKey(v.id(), g))) return;
            steps.add(new Gather(v, g, source(v), tilesRead(v), null, null, null, null));
        }

        /** What a gather of {@code v} reads its map from: the input of the resize that {@code v} is, else {@code v}. */
        Value source(Value v) {
            return resized.getOrDefault(v.id(), v);
        }

        /** The tiles a gather of {@code v} reads over its cached map: its latest tiles, unless it is full. */
        @Nullable TileGeometry tilesRead(Value v) {
            return full.contains(v.id()) ? null : tiled.get(v.id());
        }
    }
}
