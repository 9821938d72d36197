package dev.tessera.runtime.cpu;

import dev.tessera.InvalidInputException;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.backend.StepProfile;
import dev.tessera.runtime.backend.Inputs;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.TileGeometry;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Runs full passes (filling an {@link ActivationCache}) and sparse passes ({@link SparsePlan}s) of
 * one graph on the CPU.
 *
 * <p>A value needed whole in the sparse pass lives in a working map kept between edits: the first
 * scatter copies the cached map in, later ones against the same cache first restore the pixels the
 * previous edit wrote, so a scatter costs in proportion to its tiles. Tiles come from a buffer pool
 * that stops growing after the first edits. Not thread-safe: one executor per thread.
 */
public final class CpuSparseExecutor implements GraphExecutor {
    private final SparsePlanner planner;
    private final ActivationCache.Precision precision;
    private final CpuExecutor dense;
    private final boolean[] cached;
    private final BufferPool pool = new BufferPool();
    private final Map<Integer, Tensor> working = new HashMap<>();
    private final Map<Integer, TileGeometry> dirty = new HashMap<>();
    /** The cached map each working map equals outside its dirty tiles (a new cache means a full copy). */
    private final Map<Integer, ActivationCache.Map32> syncedWith = new HashMap<>();
    private final StepProfile profile = new StepProfile();

    // State of one sparse pass.
    private final Map<Integer, TileGeometry> tiledAs = new HashMap<>();
    private final Map<Integer, Map<TileGeometry, Tensor>> tiles = new HashMap<>();
    private final Map<Integer, Tensor> full = new HashMap<>();
    private final List<FloatBuffer> borrowed = new ArrayList<>();

    /** An executor whose caches hold float32 maps. */
    public CpuSparseExecutor(SparsePlanner planner) {
        this(planner, ActivationCache.Precision.FP32);
    }

    /** Inputs the planner does not count as edited must be equal in the full and the sparse pass. */
    public CpuSparseExecutor(SparsePlanner planner, ActivationCache.Precision precision) {
        this.planner = planner;
        this.precision = precision;
        this.cached = planner.cachedValues();
        this.dense = new CpuExecutor(planner.graph(), cached);
    }

    public SparsePlanner planner() {
        return planner;
    }

    @Override
    public long cacheBytes() {
        return planner.cacheBytes(precision);
    }

    @Override
    public ActivationCache newCache(long budgetBytes) {
        return new ActivationCache(precision, budgetBytes);
    }

    @Override
    public Tensor dense(Tensor... inputs) {
        return dense.run(inputs);
    }

    /** The full pass on the original inputs: returns the output and fills {@code cache}. */
    public Tensor full(ActivationCache cache, Tensor... inputs) {
        return full(cache, null, inputs);
    }

    @Override
    public Tensor full(ActivationCache cache, @Nullable Progress progress, Tensor... inputs) {
        List<Value> declared = planner.graph().inputs();
        for (int i = 0; i < Math.min(inputs.length, declared.size()); i++) {
            if (cached[declared.get(i).id()]) cache.put(declared.get(i).id(), inputs[i]);
        }
        int nodes = planner.graph().nodes().size();
        int[] done = {0};
        return dense.run((node, values) -> {
            Value out = node.output();
            if (cached[out.id()]) cache.put(out.id(), values.apply(out));
            if (planner.usesCachedNorm(node)) {
                int c = out.shape().c();
                float[] scale = new float[c], shift = new float[c];
                CpuKernels.groupNormAffine((Op.GroupNorm) node.op(), values.apply(node.inputs().get(0)), 0, scale, shift);
                cache.putAffine(node.name(), scale, shift);
            }
            if (progress != null) progress.step(++done[0], nodes);
        }, inputs);
    }

    /**
     * The sparse pass: {@code plan} on the edited inputs, against the cache of the original's full pass.
     *
     * @throws InvalidInputException if an input's shape differs from the graph's, an input that is not
     *     editable differs from the cached one, or an input holds NaN or Inf
     */
    public Tensor sparse(ActivationCache cache, SparsePlan plan, Tensor... inputs) {
        return sparse(cache, plan, false, null, inputs);
    }

    @Override
    public Tensor sparse(ActivationCache cache, SparsePlan plan, boolean update, @Nullable Progress progress,
            Tensor... inputs) {
        ModelGraph g = planner.graph();
        Inputs.checkSparse(planner, cache, inputs);
        if (plan.isNoChange()) return cache.map(g.output().id()).toTensor().copy();
        try {
            for (int i = 0; i < inputs.length; i++) full.put(g.inputs().get(i).id(), inputs[i]);
            List<SparsePlan.Step> steps = plan.steps();
            for (int i = 0; i < steps.size(); i++) {
                long start = profile.enabled() ? System.nanoTime() : 0;
                execute(steps.get(i), plan, cache);
                if (profile.enabled()) profile.add(StepProfile.key(steps.get(i)), System.nanoTime() - start);
                if (progress != null) progress.step(i + 1, steps.size());
            }
            Tensor result = (planner.changed(g.output()) ? full.get(g.output().id()) : cache.map(g.output().id()).toTensor()).copy();
            if (update) writeBack(cache);
            return result;
        } finally {
            for (FloatBuffer b : borrowed) pool.give(b);
            borrowed.clear();
            tiledAs.clear();
            tiles.clear();
            full.clear();
        }
    }

    /** Writes this pass's changed cached values into the cache: whole maps, or tiles over the old map. */
    private void writeBack(ActivationCache cache) {
        for (int id : cache.valueIds()) {
            ActivationCache.Map32 map = cache.map(id);
            syncedWith.remove(id); // the working map may predate this update: copy the cache in whole next time
            Tensor whole = full.get(id);
            if (whole != null && planner.changed(planner.graph().valueById(id))) {
                map.write(whole);
            } else if (tiledAs.containsKey(id)) {
                Tensor merged = map.toTensor();
                CpuTileKernels.scatter(tiles.get(id).get(tiledAs.get(id)), tiledAs.get(id), merged);
                map.write(merged);
            }
        }
    }

    private void execute(SparsePlan.Step step, SparsePlan plan, ActivationCache cache) {
        if (step instanceof SparsePlan.Gather s) gather(s, plan, cache);
        else if (step instanceof SparsePlan.Scatter s) scatter(s.value(), s.geometry(), cache);
        else if (step instanceof SparsePlan.RunTiles s) runTiles(s, plan, cache);
        else if (step instanceof SparsePlan.RunFull s) runFull(s, cache);
    }

    private void gather(SparsePlan.Gather s, SparsePlan plan, ActivationCache cache) {
        TileGeometry g = s.geometry();
        Value v = s.result(), map = s.addedMap(), vector = s.addedVector();
        Tensor out = newTiles(v.shape().c(), g);
        putTiles(v, g, out);
        gather(plan.index(s), s.value(), s.source(), s.tiles(), cache, out);
        if (map != null) {
            Tensor other = newTiles(map.shape().c(), g);
            gather(plan.addIndex(s), map, map, s.addTiles(), cache, other);
            if (s.modulates()) CpuKernels.spade((Op.Spade) s.add().op(), out, other, out, s.act());
            else CpuKernels.add(out, other, out, null);
        }
        if (vector != null) CpuKernels.add(out, fullOf(vector, cache), out, null);
        if (s.norm() != null) {
            float[][] a = cache.affine(s.norm().name());
            CpuKernels.perChannelAffine(out.data(), out.data(), 0, v.shape().c(), g.positions(), a[0], a[1], s.act());
        } else if (s.act() != null && !s.modulates()) {
            CpuKernels.activation(s.act(), out, out);
        }
        boolean shifted = s.norm() != null || vector != null || s.modulates(); // moves zero off zero
        if (shifted && g.hasPadding()) CpuTileKernels.zeroPadding(out, g);
        if (s.result() != s.value()) tiledAs.put(v.id(), g);
    }

    /** Tiles {@code out} of {@code v} read through {@code index}: over its tiles in {@code from}, else from the full map of {@code source}. */
    private void gather(int[] index, Value v, Value source, @Nullable TileGeometry from, ActivationCache cache, Tensor out) {
        Shape src = source.shape();
        if (from != null) {
            ActivationCache.Map32 base = cache.map(v.id());
            CpuTileKernels.gather(index, tilesOf(v, from).data(), from.positions(), base.fp32(), base.fp16(), src.h() * src.w(), out);
        } else {
            CpuTileKernels.gather(index, null, 0, fullOf(source, cache).data(), null, src.h() * src.w(), out);
        }
    }

    private void scatter(Value v, TileGeometry g, ActivationCache cache) {
        ActivationCache.Map32 base = cache.map(v.id());
        Tensor dst = working.get(v.id());
        if (dst == null || !dirty.containsKey(v.id()) || syncedWith.get(v.id()) != base) {
            if (dst == null) working.put(v.id(), dst = Tensor.zeros(v.shape()));
            base.copyTo(0, dst.data(), 0, dst.size());
            syncedWith.put(v.id(), base);
        } else if (!dirty.get(v.id()).equals(g)) { // the same tiles as last time overwrite every pixel they wrote
            CpuTileKernels.restore(base, dirty.get(v.id()), dst);
        }
        CpuTileKernels.scatter(tiles.get(v.id()).get(g), g, dst);
        dirty.put(v.id(), g);
        full.put(v.id(), dst);
    }

    private void runFull(SparsePlan.RunFull s, ActivationCache cache) {
        Node n = s.node();
        Value v = s.result();
        Tensor out = working.computeIfAbsent(v.id(), id -> Tensor.zeros(v.shape()));
        dirty.remove(v.id()); // overwritten whole: the next scatter into it copies the cache in again
        Tensor x = fullOf(n.inputs().get(0), cache);
        if (s.cachedNorm()) {
            float[][] a = cache.affine(n.name());
            CpuKernels.perChannelAffine(x.data(), out.data(), 0, v.shape().c(), v.shape().h() * v.shape().w(), a[0], a[1], s.act());
        } else {
            Tensor[] args = new Tensor[n.inputs().size()];
            for (int i = 0; i < args.length; i++) args[i] = fullOf(n.inputs().get(i), cache);
            CpuKernels.run(n.op(), args, out, scratch(n), s.act());
            if (s.add() != null) {
                CpuKernels.run(s.add().op(), CpuExecutor.addInputs(s.add(), n, out, fullOf(s.addend(), cache)), out, scratch(n), null);
            }
        }
        full.put(v.id(), out);
    }

    private void runTiles(SparsePlan.RunTiles s, SparsePlan plan, ActivationCache cache) {
        Node n = s.node();
        Op op = n.op();
        Value v = s.result();
        TileGeometry in = s.in(), out = s.out();
        Tensor result;
        if (op instanceof Op.SliceChannels slice) {
            Tensor x = tilesOf(n.inputs().get(0), in);
            result = x.view(slice.start() * in.positions(), tileShape(slice.count(), in));
        } else {
            result = newTiles(v.shape().c(), out);
            if (op instanceof Op.Conv2d c) {
                CpuTileKernels.conv(c, tilesOf(n.inputs().get(0), in), in, result, out, scratchFloats(convScratch(c, out)));
            } else if (op instanceof Op.SelfAttention) {
                Tensor qkv = fullOf(n.inputs().get(0), cache);
                int tokens = qkv.shape().h() * qkv.shape().w();
                CpuTileKernels.attention(qkv, out, plan.index(s), result, scratchFloats(v.shape().c() * out.positions()),
                        scratchFloats(out.positions() * tokens));
            } else if (op instanceof Op.GroupNorm) {
                float[][] a = cache.affine(n.name());
                CpuKernels.perChannelAffine(tilesOf(n.inputs().get(0), in).data(), result.data(), 0, v.shape().c(), in.positions(), a[0], a[1], s.act());
                if (SparsePlan.needsZeroPadding(s)) CpuTileKernels.zeroPadding(result, in);
            } else {
                Tensor[] args = new Tensor[n.inputs().size()];
                for (int i = 0; i < args.length; i++) {
                    Value a = n.inputs().get(i);
                    args[i] = a.shape().rank() == 2 ? fullOf(a, cache) : tilesOf(a, in);
                }
                CpuKernels.run(op, args, result, null, s.act());
                if (SparsePlan.needsZeroPadding(s)) CpuTileKernels.zeroPadding(result, in);
            }
        }
        putTiles(v, out, result);
        tiledAs.put(v.id(), out);
    }

    /** The full map of {@code v} in this pass: computed, scattered, an input, or (unchanged) cached. */
    private Tensor fullOf(Value v, ActivationCache cache) {
        Tensor t = full.get(v.id());
        if (t != null) return t;
        if (planner.changed(v)) throw new IllegalStateException("value " + v.id() + " has no full map in this plan");
        t = cache.map(v.id()).toTensor();
        full.put(v.id(), t);
        return t;
    }

    private Tensor tilesOf(Value v, TileGeometry g) {
        Tensor t = tiles.getOrDefault(v.id(), Collections.emptyMap()).get(g);
        if (t == null) throw new IllegalStateException("value " + v.id() + " has no tiles in " + g);
        return t;
    }

    private void putTiles(Value v, TileGeometry g, Tensor t) {
        tiles.computeIfAbsent(v.id(), id -> new HashMap<>()).put(g, t);
    }

    /** Tiles are [1, C, 1, positions] so the NCHW pointwise kernels apply unchanged. */
    private static Shape tileShape(int channels, TileGeometry g) {
        return Shape.nchw(1, channels, 1, g.positions());
    }

    private Tensor newTiles(int channels, TileGeometry g) {
        return Tensor.wrap(tileShape(channels, g), scratchFloats(channels * g.positions()));
    }

    private FloatBuffer scratchFloats(int floats) {
        FloatBuffer b = pool.take(Math.max(1, floats));
        borrowed.add(b);
        return b;
    }

    private static int convScratch(Op.Conv2d c, TileGeometry out) {
        int k = c.inChannels() * c.kernelH() * c.kernelW();
        int perTile = out.tileHeight() * out.tileWidth();
        return k * perTile * Math.max(1, Math.min(out.count(), CpuKernels.IM2COL_PANEL_FLOATS / (k * perTile)));
    }

    private CpuKernels.Scratch scratch(Node n) {
        return new CpuKernels.Scratch(scratchFloats(CpuExecutor.im2colFloats(n)), scratchFloats(CpuExecutor.scoreFloats(n)));
    }

    /** Drops the working maps (host memory only: nothing native to free). */
    @Override
    public void close() {
        working.clear();
        dirty.clear();
        syncedWith.clear();
    }

    @Override
    public StepProfile profile() {
        return profile;
    }

}
