package dev.tessera.runtime.backend;

import dev.tessera.runtime.graph.DenseSchedule;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.GatherIndex;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.TileGeometry;
import dev.tessera.runtime.tensor.Shape;
import java.nio.IntBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What the executors of GPU backends share: the dense schedule's node loop, and how the steps of a
 * {@link SparsePlan} move values between their cached, full and tiled forms, in device memory
 * addressed by longs. A backend supplies memory and kernels (the abstract methods) and runs its
 * passes its own way (streams, graphs, command buffers); this class keeps each value's memory
 * during a pass, and the working maps that persist between edits: the full maps tiles are
 * scattered into, where a later scatter restores only the pixels the previous edit wrote (none when
 * it writes the same tiles), and the copies of cache entries that passes against several caches
 * read ({@link #beginSparse}).
 *
 * @param <B> the backend's device memory, as cache entries hold it
 */
public abstract class DeviceExecutor<B extends DeviceMemory> implements GraphExecutor {
    protected final SparsePlanner planner;
    protected final ModelGraph graph;
    protected final boolean[] cached;
    protected final boolean half;
    protected final int elementBytes;
    protected final DenseSchedule schedule;
    private final Class<B> memoryType;

    // Kept between sparse passes.
    protected final Map<Integer, B> working = new HashMap<>();
    private final Map<Integer, TileGeometry> dirty = new HashMap<>();
    private final Map<Integer, B> syncedWith = new HashMap<>();
    /** What the plan data last laid out holds: where each geometry's corners and each step's index map start (in ints). */
    private @Nullable SparsePlan laidPlan;
    private Set<TileGeometry> laidGeometries = Collections.emptySet();
    private final Map<TileGeometry, Integer> originsOffset = new HashMap<>();
    private final Map<SparsePlan.Step, Integer> indexOffset = new IdentityHashMap<>();
    private final Map<SparsePlan.Step, Integer> addIndexOffset = new IdentityHashMap<>();
    /** The device address of the plan data last laid out (the backend uploads it and sets this). */
    protected long planData;
    /**
     * Copies of cache entries at fixed addresses, by value id or norm node name, and the entry each
     * copy holds: what sparse passes read instead of the entries while {@link #mirroring}.
     */
    private final Map<Object, B> mirror = new HashMap<>();
    private final Map<Object, B> mirroredFrom = new HashMap<>();
    private boolean mirroring;
    private @Nullable ActivationCache lastCache;

    // State of one pass.
    /** The device address of each value's full map in this pass, 0 while it has none. */
    protected final long[] full;
    /** Which full maps of a dense pass are the pass's own scratch (not views, aliases or inputs). */
    private final boolean[] owned;
    /** Where the last group norm a dense pass ran left its per-channel affine (scale, then shift; float32). */
    protected long lastNormAffine;
    private final Map<Integer, TileGeometry> tiledAs = new HashMap<>();
    private final Map<Integer, Map<TileGeometry, Long>> tiles = new HashMap<>();

    protected DeviceExecutor(SparsePlanner planner, boolean half, Class<B> memoryType) {
        this.planner = planner;
        this.graph = planner.graph();
        this.cached = planner.cachedValues();
        this.half = half;
        this.elementBytes = half ? 2 : 4;
        this.memoryType = memoryType;
        this.full = new long[graph.valueCount()];
        this.owned = new boolean[graph.valueCount()];
        this.schedule = new DenseSchedule(graph, cached);
    }

    @Override
    public long cacheBytes() {
        return planner.cacheBytes(precision());
    }

    @Override
    public ActivationCache newCache(long budgetBytes) {
        return new ActivationCache(precision(), budgetBytes);
    }

    private ActivationCache.Precision precision() {
        return half ? ActivationCache.Precision.FP16 : ActivationCache.Precision.FP32;
    }

    // ---------------------------------------------------------------- what a backend supplies

    /** Scratch memory for {@code elements} at the storage precision, freed when the pass ends. */
    protected abstract long alloc(long elements);

    /** Gives scratch memory back before the pass ends (after the work already described reads it). */
    protected abstract void free(long address);

    /** Called after each node a dense pass computes (profiles and timelines); {@code start} is System.nanoTime() before it, 0 when not profiling. */
    protected abstract void nodeDone(Node node, long start);

    /** Memory that outlives the pass (a working map, a cache entry). */
    protected abstract B allocateMap(long bytes);

    protected abstract void copy(long src, long dst, long bytes);

    /**
     * Where a gather reads one value: through the index map at {@code index} ({@link GatherIndex}),
     * from {@code tiles} [channels, tilePositions] (0 when the map has no such entries) or from the
     * full map {@code map} [channels, plane].
     */
    protected record GatherSource(long index, long tiles, int tilePositions, long map, int plane) {}

    /**
     * Tiles {@code out} [channels, positions] read from {@code a}, plus {@code b} where not null,
     * plus the per-channel vector at {@code vector} (storage precision; 0 for none); then, except on
     * padding, {@code x * scale[c] + shift[c]} (float32 vectors; both 0 for none) and {@code act}.
     * When {@code modulates} (a SPADE node), {@code b} holds its gamma and beta (2 * channels)
     * instead, scale and shift are its batch norm, and the value becomes
     * {@code act((a * scale + shift) * (1 + gamma) + beta)}.
     */
    protected abstract void gather(GatherSource a, @Nullable GatherSource b, boolean modulates, long vector, int positions, int channels,
            long scale, long shift, Op.@Nullable Activation act, long out);

    /** The device address of parameter {@code index} of {@code node} (its weights, bias, ...). */
    protected abstract long param(Node node, int index);

    /** Writes the in-map pixels of the tiles into the map. */
    protected abstract void scatterTiles(long tiles, long map, TileGeometry g, int channels);

    /** Copies the pixels under the tiles of {@code g} from the map {@code src} to the map {@code dst}. */
    protected abstract void restoreTiles(long src, long dst, TileGeometry g, int channels);

    /** Sets the tiles' pixels outside the map to zero. */
    protected abstract void zeroPadding(long tiles, TileGeometry g, int channels);

    /** {@code y = act(x * scale[c] + shift[c])} over {@code plane} pixels a channel; scale then shift at {@code affine}. */
    protected abstract void affine(long x, long y, long affine, int channels, long plane, Op.@Nullable Activation act);

    /** A node on full maps, as the dense pass runs it, then {@code act} if not null. */
    protected abstract void runNode(Node n, long[] in, long out, Op.@Nullable Activation act);

    /**
     * Conv {@code conv} on full maps and the add the schedule fused into it ({@link
     * DenseSchedule#fusedAddNode}): {@code out} = the conv's output plus the add's other input, at
     * {@code addend}. Here the two run one after the other in {@code out}; a backend whose conv can
     * start from the addend overrides this.
     */
    protected void runConvWithAdd(Node conv, long[] in, long out, Node add, long addend) {
        runNode(conv, in, out, null);
        long[] addIn = {out, out};
        addIn[DenseSchedule.addendIndex(add, conv)] = addend;
        runNode(add, addIn, out, null);
    }

    /** A pointwise node on {@code positions} pixels a channel (per-channel [N, C] inputs given whole), then {@code act}. */
    protected abstract void pointwise(Node n, long[] args, Shape[] shapes, long out, int channels, int positions, Op.@Nullable Activation act);

    /** A padding-free conv over the tiles of {@code in} into the tiles of {@code out} (at least one tile). */
    protected abstract void tileConv(Node n, long tiles, TileGeometry in, long result, TileGeometry out);

    /** Attention node {@code n}: {@code positions} queries [C, positions] against the map's keys and values; {@code scores} is scratch. */
    protected abstract void attention(Node n, long queries, int positions, int channels, long qkv, int tokens, long scores, long out);

    // ---------------------------------------------------------------- dense and full passes

    /**
     * The graph node by node on inputs whose full maps are set, as the dense schedule says (views,
     * fused activations, memory released after its last reader); with a cache, filling it.
     */
    protected void runNodes(@Nullable ActivationCache cache, @Nullable Progress progress) {
        List<Node> nodes = graph.nodes();
        for (int i = 0; i < nodes.size(); i++) {
            Node node = nodes.get(i);
            Value out = node.output();
            if (DenseSchedule.isView(node)) {
                full[out.id()] = view(node, full[node.inputs().get(0).id()]);
            } else if (schedule.isAlias(i)) {
                full[out.id()] = full[schedule.aliased(i).id()];
            } else {
                full[out.id()] = alloc(out.shape().size());
                owned[out.id()] = true;
                long start = profile().enabled() ? System.nanoTime() : 0;
                long[] in = new long[node.inputs().size()];
                for (int k = 0; k < in.length; k++) in[k] = full[node.inputs().get(k).id()];
                Node add = schedule.fusedAddNode(i);
                if (add != null) {
                    runConvWithAdd(node, in, full[out.id()], add, full[DenseSchedule.addend(add, node).id()]);
                } else {
                    runNode(node, in, full[out.id()], schedule.fusedActivation(i));
                }
                nodeDone(node, start);
            }
            if (cache != null) {
                if (cached[out.id()]) cache.put(out.id(), copyToNew(full[out.id()], (long) out.shape().size() * elementBytes));
                if (planner.usesCachedNorm(node)) cache.putAffine(node.name(), copyToNew(lastNormAffine, 2L * out.shape().c() * Float.BYTES));
            }
            if (progress != null) progress.step(i + 1, nodes.size());
            for (Value dead : schedule.releasedAfter(i)) {
                if (owned[dead.id()]) {
                    free(full[dead.id()]);
                    owned[dead.id()] = false;
                }
            }
        }
    }

    /** Where a channel slice that is a view ({@link DenseSchedule#isView}) of the map at {@code input} starts. */
    private long view(Node slice, long input) {
        Value out = slice.output();
        long inner = out.shape().size() / ((long) out.shape().dim(0) * out.shape().dim(1));
        return input + ((Op.SliceChannels) slice.op()).start() * inner * elementBytes;
    }

    private B copyToNew(long src, long bytes) {
        B b = allocateMap(bytes);
        copy(src, b.address(), bytes);
        return b;
    }

    // ---------------------------------------------------------------- the cache a pass reads

    /**
     * Called by a backend that replays recorded passes before each sparse pass (outside any
     * recording). Once passes alternate between live caches (an SDEdit edit runs one plan against
     * each denoising step's cache), they read copies of the entries at fixed addresses instead of
     * the entries: this refreshes each copy whose entry differs (device copies of at most the
     * cache's size: 0.36 GB for DDPM's float16 cache), so one recording of the plan serves every
     * cache. While passes use one cache at a time (a GauGAN session), they read the entries
     * themselves and no copy exists.
     *
     * @return what a recording of the pass depends on besides the plan: the cache, or this
     *     executor while it reads copies
     */
    protected Object beginSparse(ActivationCache cache) {
        ActivationCache last = lastCache;
        if (last != null && last != cache && !last.valueIds().isEmpty()) mirroring = true;
        lastCache = cache;
        if (!mirroring) return cache;
        for (Map.Entry<Object, B> e : mirror.entrySet()) refresh(e.getKey(), e.getValue(), entry(e.getKey(), cache));
        return this;
    }

    /** The cache entry of value {@code id} as sparse passes read it. */
    protected B cached(int id, ActivationCache cache) {
        return mirrored(id, cache);
    }

    /** A group norm's cached affine as sparse passes read it. */
    private B cachedAffine(String node, ActivationCache cache) {
        return mirrored(node, cache);
    }

    private B entry(Object key, ActivationCache cache) {
        return key instanceof Integer id ? cache.entry(id, memoryType) : cache.affineEntry((String) key, memoryType);
    }

    private B mirrored(Object key, ActivationCache cache) {
        B entry = entry(key, cache);
        if (!mirroring) return entry;
        B copy = mirror.get(key);
        if (copy == null) mirror.put(key, copy = allocateMap(entry.bytes())); // in a pass that is not recorded: see beginSparse
        refresh(key, copy, entry);
        return copy;
    }

    private void refresh(Object key, B copy, B entry) {
        if (mirroredFrom.get(key) == entry) return;
        copy(entry.address(), copy.address(), entry.bytes());
        mirroredFrom.put(key, entry);
        if (key instanceof Integer id) syncedWith.remove(id); // the working map holds the old contents outside its tiles
    }

    // ---------------------------------------------------------------- the steps

    /**
     * What a pass of {@code plan} reads besides maps, as one int array for the backend to upload (and
     * then set {@link #planData} to its address): the tile corners of every geometry the pass uses or
     * the previous pass left in working maps, and the plan's gather index maps. Null when the data
     * last laid out serves this pass unchanged (the same plan after itself: no upload).
     */
    protected int @Nullable [] layOutPlanData(SparsePlan plan) {
        Set<TileGeometry> all = new LinkedHashSet<>(dirty.values()); // restores
        for (SparsePlan.Step s : plan.steps()) { // scatters, write-backs and padding
            if (s instanceof SparsePlan.Gather g) all.add(g.geometry());
            else if (s instanceof SparsePlan.Scatter g) all.add(g.geometry());
            else if (s instanceof SparsePlan.RunTiles t) {
                all.add(t.in());
                all.add(t.out());
            }
        }
        if (plan == laidPlan && all.equals(laidGeometries)) return null;
        int ints = plan.indexInts();
        for (TileGeometry g : all) ints += 2 * g.count();
        IntBuffer data = IntBuffer.allocate(ints);
        originsOffset.clear();
        indexOffset.clear();
        addIndexOffset.clear();
        for (TileGeometry g : all) {
            originsOffset.put(g, data.position());
            g.writeOrigins(data);
        }
        for (Map.Entry<SparsePlan.Step, int[]> e : plan.indexes().entrySet()) {
            indexOffset.put(e.getKey(), data.position());
            data.put(e.getValue());
        }
        for (Map.Entry<SparsePlan.Step, int[]> e : plan.addIndexes().entrySet()) {
            addIndexOffset.put(e.getKey(), data.position());
            data.put(e.getValue());
        }
        laidPlan = plan;
        laidGeometries = all;
        return data.array();
    }

    /** Where the tile corners of {@code g} lie on the device. */
    protected long originsAt(TileGeometry g) {
        Integer at = originsOffset.get(g);
        if (at == null) throw new IllegalStateException("no tile corners laid out for " + g);
        return planData + 4L * at;
    }

    private long indexAt(Map<SparsePlan.Step, Integer> offsets, SparsePlan.Step s) {
        Integer at = offsets.get(s);
        if (at == null) throw new IllegalStateException("no index map laid out for " + s);
        return planData + 4L * at;
    }

    protected void execute(SparsePlan.Step step, ActivationCache cache) {
        if (step instanceof SparsePlan.Gather s) gather(s, cache);
        else if (step instanceof SparsePlan.Scatter s) scatter(s.value(), s.geometry(), cache);
        else if (step instanceof SparsePlan.RunTiles s) runTiles(s, cache);
        else if (step instanceof SparsePlan.RunFull s) runFull(s, cache);
    }

    private void gather(SparsePlan.Gather s, ActivationCache cache) {
        TileGeometry g = s.geometry();
        Value v = s.result(), map = s.addedMap(), vector = s.addedVector();
        long out = alloc((long) v.shape().c() * g.positions());
        putTiles(v, g, out);
        GatherSource a = source(indexAt(indexOffset, s), s.value(), s.source(), s.tiles(), cache);
        GatherSource b = map != null ? source(indexAt(addIndexOffset, s), map, map, s.addTiles(), cache) : null;
        int c = v.shape().c();
        long scale = 0, shift = 0;
        if (s.modulates()) { // the SPADE node's batch norm
            scale = param(s.add(), 0);
            shift = param(s.add(), 1);
        } else if (s.norm() != null) { // the group norm's cached affine: scale, then shift
            scale = cachedAffine(s.norm().name(), cache).address();
            shift = scale + 4L * c;
        }
        gather(a, b, s.modulates(), vector != null ? fullOf(vector, cache) : 0, g.positions(), c, scale, shift, s.act(), out);
        if (s.result() != s.value()) tiledAs.put(v.id(), g);
    }

    /** Where a gather of {@code v} reads it: over its tiles in {@code from} and its cached map, else the full map of {@code source}. */
    private GatherSource source(long index, Value v, Value source, @Nullable TileGeometry from, ActivationCache cache) {
        int plane = source.shape().h() * source.shape().w();
        if (from == null) return new GatherSource(index, 0, 0, fullOf(source, cache), plane);
        return new GatherSource(index, tilesOf(v, from), from.positions(), cached(v.id(), cache).address(), plane);
    }

    private void scatter(Value v, TileGeometry g, ActivationCache cache) {
        B base = cached(v.id(), cache);
        B dst = working.get(v.id());
        int c = v.shape().c();
        if (dst == null || !dirty.containsKey(v.id()) || syncedWith.get(v.id()) != base) {
            if (dst == null) working.put(v.id(), dst = allocateMap((long) v.shape().size() * elementBytes));
            copy(base.address(), dst.address(), base.bytes());
            syncedWith.put(v.id(), base);
        } else if (!dirty.get(v.id()).equals(g)) { // the same tiles as last time overwrite every pixel they wrote
            restoreTiles(base.address(), dst.address(), dirty.get(v.id()), c);
        }
        scatterTiles(tilesOf(v, g), dst.address(), g, c);
        dirty.put(v.id(), g);
        full[v.id()] = dst.address();
    }

    private void runFull(SparsePlan.RunFull s, ActivationCache cache) {
        Node n = s.node();
        Value v = s.result();
        if (SparsePlan.isView(s)) { // as in the dense pass: no copy
            full[v.id()] = view(n, fullOf(n.inputs().get(0), cache));
            return;
        }
        B out = working.get(v.id());
        if (out == null) working.put(v.id(), out = allocateMap((long) v.shape().size() * elementBytes));
        dirty.remove(v.id()); // overwritten whole: the next scatter into it copies the cache in again
        long[] in = new long[n.inputs().size()];
        for (int i = 0; i < in.length; i++) in[i] = fullOf(n.inputs().get(i), cache);
        if (s.cachedNorm()) {
            affine(in[0], out.address(), cachedAffine(n.name(), cache).address(), v.shape().c(), (long) v.shape().h() * v.shape().w(), s.act());
        } else if (s.add() != null) {
            runConvWithAdd(n, in, out.address(), s.add(), fullOf(s.addend(), cache));
        } else {
            runNode(n, in, out.address(), s.act());
        }
        full[v.id()] = out.address();
    }

    private void runTiles(SparsePlan.RunTiles s, ActivationCache cache) {
        Node n = s.node();
        Op op = n.op();
        Value v = s.result();
        TileGeometry in = s.in(), out = s.out();
        int c = v.shape().c();
        long result;
        if (op instanceof Op.SliceChannels slice) {
            result = tilesOf(n.inputs().get(0), in) + (long) slice.start() * in.positions() * elementBytes;
        } else {
            result = alloc((long) c * out.positions());
            if (op instanceof Op.Conv2d) {
                if (out.count() > 0) tileConv(n, tilesOf(n.inputs().get(0), in), in, result, out);
            } else if (op instanceof Op.SelfAttention) {
                Shape qkv = n.inputs().get(0).shape();
                int tokens = qkv.h() * qkv.w();
                long map = fullOf(n.inputs().get(0), cache);
                long queries = alloc((long) c * out.positions());
                gather(new GatherSource(indexAt(indexOffset, s), 0, 0, map, tokens), null, false, 0, out.positions(), c, 0, 0, null, queries);
                attention(n, queries, out.positions(), c, map, tokens, alloc((long) out.positions() * tokens), result);
            } else if (op instanceof Op.GroupNorm) {
                affine(tilesOf(n.inputs().get(0), in), result, cachedAffine(n.name(), cache).address(), c, in.positions(), s.act());
                if (SparsePlan.needsZeroPadding(s)) zeroPadding(result, in, c);
            } else {
                long[] args = new long[n.inputs().size()];
                Shape[] shapes = new Shape[args.length];
                for (int i = 0; i < args.length; i++) {
                    Value a = n.inputs().get(i);
                    args[i] = a.shape().rank() == 2 ? fullOf(a, cache) : tilesOf(a, in);
                    shapes[i] = a.shape();
                }
                pointwise(n, args, shapes, result, c, in.positions(), s.act());
                if (SparsePlan.needsZeroPadding(s)) zeroPadding(result, in, c);
            }
        }
        putTiles(v, out, result);
        tiledAs.put(v.id(), out);
    }

    /** The full map of {@code v} in this pass: computed, scattered, an input, or (unchanged) cached. */
    protected long fullOf(Value v, ActivationCache cache) {
        if (full[v.id()] != 0) return full[v.id()];
        if (planner.changed(v)) throw new IllegalStateException("value " + v.id() + " has no full map in this plan");
        return full[v.id()] = cached(v.id(), cache).address();
    }

    private long tilesOf(Value v, TileGeometry g) {
        Long t = tiles.getOrDefault(v.id(), Collections.emptyMap()).get(g);
        if (t == null) throw new IllegalStateException("value " + v.id() + " has no tiles in " + g);
        return t;
    }

    private void putTiles(Value v, TileGeometry g, long address) {
        tiles.computeIfAbsent(v.id(), id -> new HashMap<>()).put(g, address);
    }

    /** Writes this pass's changed cached values into the cache: whole maps, or tiles over the old map. */
    protected void writeBack(ActivationCache cache) {
        for (int id : cache.valueIds()) {
            if (!planner.changed(graph.valueById(id))) continue;
            B entry = cache.entry(id, memoryType);
            syncedWith.remove(id); // the working map may predate this update: copy the cache in whole next time
            mirroredFrom.remove(id); // and so may the copy a pass reads
            if (full[id] != 0) {
                copy(full[id], entry.address(), entry.bytes());
            } else if (tiledAs.containsKey(id)) {
                TileGeometry g = tiledAs.get(id);
                scatterTiles(tilesOf(graph.valueById(id), g), entry.address(), g, graph.valueById(id).shape().c());
            }
        }
    }

    /** Forgets the pass's forms (its scratch memory is the backend's to free). */
    protected void endPassForms() {
        Arrays.fill(full, 0);
        Arrays.fill(owned, false);
        tiledAs.clear();
        tiles.clear();
    }

    /**
     * After a pass that was described but never ran: the working maps do not hold what its scatters
     * recorded, so the next scatters copy whole maps, and the plan data it would have uploaded never
     * arrived, so the next pass lays it out and uploads it again.
     */
    protected void forgetUnrunPass() {
        dirty.clear();
        syncedWith.clear();
        mirroredFrom.clear();
        laidPlan = null;
    }

    /** Frees the working maps and the copies of cache entries. */
    protected void closeWorkingMaps() {
        for (B b : working.values()) b.close();
        for (B b : mirror.values()) b.close();
        working.clear();
        mirror.clear();
        mirroredFrom.clear();
        dirty.clear();
        syncedWith.clear();
    }
}
