package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cublas.*;
import static org.bytedeco.cuda.global.cudart.*;

import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.backend.Inputs;
import dev.tessera.runtime.graph.DenseSchedule;
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
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.Pointer;
import org.jspecify.annotations.Nullable;

/**
 * Runs one graph on the GPU: dense and full passes node by node, sparse passes step by step as the
 * {@link SparsePlan} says, mirroring the CPU backend's semantics (same schedule, same plan) with
 * device memory. Everything runs on one stream; a pass synchronizes once, when its output is
 * downloaded. Transient buffers come from the stream-ordered pool; working maps (the full maps
 * that tiles are scattered into) persist between edits, and a later scatter restores only the
 * pixels the previous edit wrote. Not thread-safe: one executor per session.
 */
final class CudaExecutor implements GraphExecutor {
    private final CudaModel model;
    private final SparsePlanner planner;
    private final ModelGraph graph;
    private final boolean half;
    private final int elementBytes;
    private final boolean[] cached;
    private final DenseSchedule schedule;
    private final CUstream_st stream = new CUstream_st();
    private final Kernels kernels;
    private final Convolutions convolutions;
    private final cublasContext blas = new cublasContext();
    private final FloatPointer alpha = new FloatPointer(1), beta = new FloatPointer(1);

    // Kept between sparse passes.
    private final Map<Integer, DeviceBuffer> working = new HashMap<>();
    private final Map<Integer, TileGeometry> dirty = new HashMap<>();
    private final Map<Integer, DeviceBuffer> syncedWith = new HashMap<>();
    private DeviceBuffer origins = DeviceBuffer.allocate(0);
    private IntPointer staging = new IntPointer(0L);

    // State of one pass.
    private final long[] full;
    private final boolean[] owned;
    private final Map<TileGeometry, Long> originsAt = new HashMap<>();
    private final Map<Integer, TileGeometry> tiledAs = new HashMap<>();
    private final Map<Integer, Map<TileGeometry, Long>> tiles = new HashMap<>();
    private final List<Long> transients = new ArrayList<>();
    private long lastNormAffine;

    CudaExecutor(CudaModel model, SparsePlanner planner) {
        this.model = model;
        this.planner = planner;
        this.graph = planner.graph();
        this.half = model.half;
        this.elementBytes = half ? 2 : 4;
        this.cached = planner.cachedValues();
        this.schedule = new DenseSchedule(graph, cached);
        this.full = new long[graph.valueCount()];
        this.owned = new boolean[graph.valueCount()];
        CudaDevice.bindThread();
        CudaDevice.check(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        kernels = new Kernels(model.device, stream, half);
        convolutions = new Convolutions(stream, half);
        checkBlas(cublasCreate_v2(blas), "cublasCreate");
        checkBlas(cublasSetStream_v2(blas, stream), "cublasSetStream");
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

    @Override
    public Tensor dense(Tensor... inputs) {
        return runDense(null, null, inputs);
    }

    @Override
    public Tensor full(ActivationCache cache, @Nullable Progress progress, Tensor... inputs) {
        return runDense(cache, progress, inputs);
    }

    // ---------------------------------------------------------------- dense and full passes

    private Tensor runDense(@Nullable ActivationCache cache, @Nullable Progress progress, Tensor[] inputs) {
        Inputs.checkDense(graph, inputs);
        CudaDevice.bindThread();
        List<Node> nodes = graph.nodes();
        try {
            for (int i = 0; i < inputs.length; i++) {
                Value in = graph.inputs().get(i);
                full[in.id()] = upload(inputs[i]);
                if (cache != null && cached[in.id()]) cache.put(in.id(), inputs[i]); // host copy: edits are checked against it
            }
            for (int i = 0; i < nodes.size(); i++) {
                Node node = nodes.get(i);
                Value out = node.output();
                if (DenseSchedule.isView(node)) {
                    Op.SliceChannels s = (Op.SliceChannels) node.op();
                    long inner = out.shape().size() / ((long) out.shape().dim(0) * out.shape().dim(1));
                    full[out.id()] = full[node.inputs().get(0).id()] + s.start() * inner * elementBytes;
                } else if (schedule.isAlias(i)) {
                    full[out.id()] = full[node.inputs().get(0).id()];
                } else {
                    full[out.id()] = alloc(out.shape().size());
                    owned[out.id()] = true;
                    runNode(node, inputsOf(node), full[out.id()], schedule.fusedActivation(i));
                }
                if (cache != null) {
                    if (cached[out.id()]) cache.put(out.id(), copyToNew(full[out.id()], (long) out.shape().size() * elementBytes));
                    if (planner.usesCachedNorm(node)) cache.putAffine(node.name(), copyToNew(lastNormAffine, 2L * out.shape().c() * Float.BYTES));
                }
                if (progress != null) progress.step(i + 1, nodes.size());
                for (Value dead : schedule.releasedAfter(i)) release(dead);
            }
            return download(full[graph.output().id()], graph.output().shape());
        } finally {
            endPass();
        }
    }

    private long[] inputsOf(Node node) {
        long[] in = new long[node.inputs().size()];
        for (int i = 0; i < in.length; i++) in[i] = full[node.inputs().get(i).id()];
        return in;
    }

    private void release(Value v) {
        if (owned[v.id()]) {
            free(full[v.id()]);
            owned[v.id()] = false;
        }
    }

    /** One node on full maps: {@code in} are its inputs' addresses, {@code out} its output's. */
    private void runNode(Node node, long[] in, long out, Op.@Nullable Activation act) {
        Op op = node.op();
        Shape y = node.output().shape();
        Shape x = node.inputs().get(0).shape();
        DeviceBuffer[] p = model.params(node);
        if (op instanceof Op.Conv2d c) {
            conv2d(c, p, in[0], x, out, y, act);
        } else if (op instanceof Op.GroupNorm g) {
            long plane = (long) y.h() * y.w();
            long affine = alloc32(2L * y.n() * y.c());
            kernels.call("group_norm_stats").ptr(in[0]).ptr(p[0].address).ptr(p[1].address).ptr(affine)
                    .ptr(affine + 4L * y.n() * y.c()).i(y.c()).i(g.groups()).l(plane).f(g.eps()).launch(y.n() * g.groups(), 512);
            channelAffine(in[0], out, affine, affine + 4L * y.n() * y.c(), y.n() * y.c(), plane, y.size(), act);
            lastNormAffine = affine;
        } else if (op instanceof Op.ResizeNearest) {
            kernels.call("resize_nearest").ptr(in[0]).ptr(out).ptr(model.nearestIndex(x.h(), y.h())).ptr(model.nearestIndex(x.w(), y.w()))
                    .i(x.h()).i(x.w()).i(y.h()).i(y.w()).l(y.size()).launch(y.size());
        } else if (op instanceof Op.SelfAttention) {
            int c = y.c();
            int tokens = y.h() * y.w();
            long scores = alloc((long) tokens * tokens);
            for (int n = 0; n < y.n(); n++) {
                long q = in[0] + (long) n * 3 * c * tokens * elementBytes;
                attention(q, tokens, c, q, tokens, scores, out + (long) n * c * tokens * elementBytes);
            }
        } else if (op instanceof Op.Linear l) {
            int rows = x.dim(0), features = y.dim(1), inF = x.dim(1);
            gemm(false, true, rows, features, inF, 1f, in[0], inF, p[0].address, inF, 0f, out, features);
            channelAffine(out, out, 0, p[1].address, features, 1, y.size(), null);
        } else if (op instanceof Op.TimestepEmbedding t) {
            kernels.call("timestep_embedding").ptr(in[0]).ptr(out).i(x.dim(0)).i(t.dim()).launch((long) x.dim(0) * t.dim());
        } else {
            Shape[] shapes = new Shape[node.inputs().size()];
            for (int i = 0; i < shapes.length; i++) shapes[i] = node.inputs().get(i).shape();
            pointwise(node, in, shapes, out, y.dim(0), y.dim(1), (long) y.size() / ((long) y.dim(0) * y.dim(1)), act);
        }
    }

    /**
     * Ops that treat a map as [N, C, plane] planes, on full maps or on tiles (N = 1, plane = tile
     * positions): norms, SPADE, activations, adds, concats, slices.
     */
    private void pointwise(Node node, long[] in, Shape[] shapes, long out, int n, int c, long plane, Op.@Nullable Activation act) {
        Op op = node.op();
        DeviceBuffer[] p = model.params(node);
        long total = (long) n * c * plane;
        if (op instanceof Op.BatchNorm) {
            channelAffine(in[0], out, p[0].address, p[1].address, c, plane, total, act);
        } else if (op instanceof Op.Spade) {
            kernels.call("spade").ptr(in[0]).ptr(in[1]).ptr(out).ptr(p[0].address).ptr(p[1].address).i(c).l(plane).l(total)
                    .i(activationCode(act)).f(slope(act)).launch(total);
        } else if (op instanceof Op.Activation a) {
            channelAffine(in[0], out, 0, 0, 1, 1, total, a);
        } else if (op instanceof Op.Add) {
            boolean perChannel = shapes[1].rank() == 2;
            kernels.call("add").ptr(in[0]).ptr(in[1]).ptr(out).l(plane).i(perChannel ? 1 : 0).l(total)
                    .i(activationCode(act)).f(slope(act)).launch(total);
        } else if (op instanceof Op.Concat) {
            int at = 0;
            for (int i = 0; i < in.length; i++) {
                int ci = shapes[i].c();
                copyChannels(in[i], ci, 0, out, c, at, ci, n, plane);
                at += ci;
            }
        } else if (op instanceof Op.SliceChannels s) {
            copyChannels(in[0], shapes[0].dim(1), s.start(), out, c, 0, s.count(), n, plane);
        } else {
            throw new IllegalStateException("no CUDA kernel for " + op);
        }
    }

    private void conv2d(Op.Conv2d c, DeviceBuffer[] p, long x, Shape xs, long out, Shape ys, Op.@Nullable Activation act) {
        Op.Padding pad = c.padding();
        long input = x;
        Shape in = xs;
        int padH = pad.top(), padW = pad.left();
        if (pad.top() != pad.bottom() || pad.left() != pad.right()) { // cuDNN pads symmetrically: pad explicitly
            in = Shape.nchw(xs.n(), xs.c(), xs.h() + pad.top() + pad.bottom(), xs.w() + pad.left() + pad.right());
            input = alloc(in.size());
            kernels.call("pad").ptr(x).ptr(input).i(xs.h()).i(xs.w()).i(pad.top()).i(pad.left()).i(in.h()).i(in.w())
                    .l(in.size()).launch(in.size());
            padH = 0;
            padW = 0;
        }
        convolutions.run(c, p[0].address, input, Convolutions.Layout.packed(in.n(), in.c(), in.h(), in.w()), out,
                Convolutions.Layout.packed(ys.n(), ys.c(), ys.h(), ys.w()), padH, padW);
        if (p[1] != null || act != null) {
            channelAffine(out, out, 0, p[1] == null ? 0 : p[1].address, ys.c(), (long) ys.h() * ys.w(), ys.size(), act);
        }
    }

    /**
     * Single-head attention of {@code queries} [C, P] against keys and values of the map at {@code qkv}
     * (q, k, v of [C, tokens] each): {@code out[C, P] = v softmax(q^T k / sqrt(C))^T}.
     */
    private void attention(long queries, int p, int c, long qkv, int tokens, long scores, long out) {
        if (p == 0) return;
        long keys = qkv + (long) c * tokens * elementBytes, values = keys + (long) c * tokens * elementBytes;
        gemm(true, false, p, tokens, c, (float) (1.0 / Math.sqrt(c)), queries, p, keys, tokens, 0f, scores, tokens);
        kernels.call("softmax_rows").ptr(scores).i(tokens).launch(p, 256);
        gemm(false, true, c, p, tokens, 1f, values, tokens, scores, tokens, 0f, out, p);
    }

    private void channelAffine(long x, long y, long scale, long shift, int channels, long plane, long total, Op.@Nullable Activation act) {
        kernels.call("channel_affine").ptr(x).ptr(y).ptr(scale).ptr(shift).i(channels).l(plane).l(total)
                .i(activationCode(act)).f(slope(act)).launch(total);
    }

    private void copyChannels(long src, int srcC, int srcStart, long dst, int dstC, int dstStart, int count, int n, long plane) {
        long total = (long) n * count * plane;
        kernels.call("copy_channels").ptr(src).ptr(dst).i(srcC).i(srcStart).i(dstC).i(dstStart).i(count).l(plane).l(total).launch(total);
    }

    private static int activationCode(Op.@Nullable Activation act) {
        return act == null ? 0 : act.kind().ordinal() + 1; // RELU, LEAKY_RELU, SILU, TANH as in the .cu file
    }

    private static float slope(Op.@Nullable Activation act) {
        return act == null ? 0f : act.slope();
    }

    /** Row-major {@code C[m, n] = alpha op(A)[m, k] op(B)[k, n] + beta C} at the storage precision, float32 accumulation. */
    private void gemm(boolean transA, boolean transB, int m, int n, int k, float a, long aPtr, int lda, long bPtr, int ldb,
            float b, long cPtr, int ldc) {
        if (m == 0 || n == 0) return;
        alpha.put(0, a);
        beta.put(0, b);
        int type = half ? CUDA_R_16F : CUDA_R_32F;
        // cuBLAS is column-major: compute C^T = op(B)^T op(A)^T.
        checkBlas(cublasGemmEx(blas, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, alpha,
                CudaDevice.at(bPtr), type, ldb, CudaDevice.at(aPtr), type, lda, beta, CudaDevice.at(cPtr), type, ldc,
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "cublasGemmEx");
    }

    // ---------------------------------------------------------------- sparse pass

    @Override
    public Tensor sparse(ActivationCache cache, SparsePlan plan, boolean update, @Nullable Progress progress, Tensor... inputs) {
        Inputs.checkSparse(planner, cache, inputs);
        CudaDevice.bindThread();
        int outId = graph.output().id();
        try {
            if (plan.isNoChange()) return download(cache.entry(outId, DeviceBuffer.class).address, graph.output().shape());
            for (int i = 0; i < inputs.length; i++) {
                int id = graph.inputs().get(i).id();
                full[id] = upload(inputs[i]);
            }
            uploadOrigins(plan);
            List<SparsePlan.Step> steps = plan.steps();
            for (int i = 0; i < steps.size(); i++) {
                execute(steps.get(i), cache);
                if (progress != null) progress.step(i + 1, steps.size());
            }
            long out = planner.changed(graph.output()) ? full[outId] : cache.entry(outId, DeviceBuffer.class).address;
            Tensor result = download(out, graph.output().shape());
            if (update) writeBack(cache);
            return result;
        } finally {
            endPass();
        }
    }

    /** Puts the tile corners of every geometry this pass uses (and the previous pass dirtied) on the device, in one copy. */
    private void uploadOrigins(SparsePlan plan) {
        Set<TileGeometry> all = new LinkedHashSet<>(dirty.values());
        for (SparsePlan.Step s : plan.steps()) {
            if (s instanceof SparsePlan.Gather g) all.add(g.geometry());
            else if (s instanceof SparsePlan.Scatter g) all.add(g.geometry());
            else if (s instanceof SparsePlan.RunTiles t) {
                all.add(t.in());
                all.add(t.out());
            }
        }
        long ints = 0;
        for (TileGeometry g : all) ints += 2L * g.count();
        if (staging.capacity() < ints) {
            staging.close();
            staging = new IntPointer(Math.max(ints, 2 * staging.capacity()));
            origins.close();
            origins = DeviceBuffer.allocate(4 * staging.capacity());
        }
        IntBuffer host = staging.asBuffer();
        for (TileGeometry g : all) {
            originsAt.put(g, origins.address + 4L * host.position());
            g.writeOrigins(host);
        }
        CudaDevice.check(cudaMemcpyAsync(CudaDevice.at(origins.address), staging, 4 * ints, cudaMemcpyHostToDevice, stream),
                "cudaMemcpyAsync (tile origins)");
    }

    private void execute(SparsePlan.Step step, ActivationCache cache) {
        if (step instanceof SparsePlan.Gather s) gather(s, cache);
        else if (step instanceof SparsePlan.Scatter s) scatter(s.value(), s.geometry(), cache);
        else if (step instanceof SparsePlan.RunTiles s) runTiles(s, cache);
        else if (step instanceof SparsePlan.RunFull s) runFull(s, cache);
    }

    private void gather(SparsePlan.Gather s, ActivationCache cache) {
        TileGeometry g = s.geometry();
        Value v = s.value();
        long out = alloc((long) v.shape().c() * g.positions());
        putTiles(v, g, out);
        if (s.source() != v) { // a nearest resize read through its index map
            Shape src = s.source().shape();
            gatherTiles(fullOf(s.source(), cache), v.shape().c(), g, model.nearestIndex(src.h(), v.shape().h()),
                    model.nearestIndex(src.w(), v.shape().w()), src.h(), src.w(), out);
            return;
        }
        if (tiledAs.containsKey(v.id()) && full[v.id()] == 0) scatter(v, tiledAs.get(v.id()), cache); // then read the map
        gatherTiles(fullOf(v, cache), v.shape().c(), g, 0, 0, v.shape().h(), v.shape().w(), out);
    }

    private void gatherTiles(long src, int channels, TileGeometry g, long rows, long cols, int srcH, int srcW, long out) {
        long total = (long) channels * g.positions();
        kernels.call("gather").ptr(src).ptr(out).ptr(originsAt.get(g)).i(g.count()).i(g.height()).i(g.width())
                .i(g.tileHeight()).i(g.tileWidth()).ptr(rows).ptr(cols).i(srcH).i(srcW).l(total).launch(total);
    }

    /** Tile kernels that share the (tiles, origins, count, h, w, th, tw, total) signature: scatter, restore, zero_padding. */
    private void tileKernel(String name, long a, long b, TileGeometry g, int channels) {
        long total = (long) channels * g.positions();
        kernels.call(name).ptr(a);
        if (b != 0) kernels.ptr(b);
        kernels.ptr(originsAt.get(g)).i(g.count()).i(g.height()).i(g.width()).i(g.tileHeight()).i(g.tileWidth()).l(total).launch(total);
    }

    private void scatter(Value v, TileGeometry g, ActivationCache cache) {
        DeviceBuffer base = cache.entry(v.id(), DeviceBuffer.class);
        DeviceBuffer dst = working.get(v.id());
        int c = v.shape().c();
        if (dst == null || !dirty.containsKey(v.id()) || syncedWith.get(v.id()) != base) {
            if (dst == null) working.put(v.id(), dst = DeviceBuffer.allocate((long) v.shape().size() * elementBytes));
            copy(base.address, dst.address, base.bytes());
            syncedWith.put(v.id(), base);
        } else {
            TileGeometry old = dirty.get(v.id());
            tileKernel("restore", base.address, dst.address, old, c);
        }
        tileKernel("scatter", tilesOf(v, g), dst.address, g, c);
        dirty.put(v.id(), g);
        full[v.id()] = dst.address;
    }

    private void runFull(SparsePlan.RunFull s, ActivationCache cache) {
        Node n = s.node();
        Value v = n.output();
        DeviceBuffer out = working.get(v.id());
        if (out == null) working.put(v.id(), out = DeviceBuffer.allocate((long) v.shape().size() * elementBytes));
        dirty.remove(v.id()); // overwritten whole: the next scatter into it copies the cache in again
        long[] in = new long[n.inputs().size()];
        for (int i = 0; i < in.length; i++) in[i] = fullOf(n.inputs().get(i), cache);
        if (s.cachedNorm()) {
            Shape y = v.shape();
            long affine = cache.affineEntry(n.name(), DeviceBuffer.class).address;
            channelAffine(in[0], out.address, affine, affine + 4L * y.c(), y.c(), (long) y.h() * y.w(), y.size(), null);
        } else {
            runNode(n, in, out.address, null);
        }
        full[v.id()] = out.address;
    }

    private void runTiles(SparsePlan.RunTiles s, ActivationCache cache) {
        Node n = s.node();
        Op op = n.op();
        Value v = n.output();
        TileGeometry in = s.in(), out = s.out();
        int c = v.shape().c();
        long result;
        if (op instanceof Op.SliceChannels slice) {
            result = tilesOf(n.inputs().get(0), in) + (long) slice.start() * in.positions() * elementBytes;
        } else {
            result = alloc((long) c * out.positions());
            if (op instanceof Op.Conv2d conv) {
                if (out.count() > 0) {
                    DeviceBuffer[] p = model.params(n);
                    convolutions.run(conv, p[0].address, tilesOf(n.inputs().get(0), in),
                            Convolutions.Layout.tiles(in.count(), conv.inChannels(), in.tileHeight(), in.tileWidth()), result,
                            Convolutions.Layout.tiles(out.count(), c, out.tileHeight(), out.tileWidth()), 0, 0);
                    if (p[1] != null) channelAffine(result, result, 0, p[1].address, c, out.positions(), (long) c * out.positions(), null);
                }
            } else if (op instanceof Op.SelfAttention) {
                Shape qkv = n.inputs().get(0).shape();
                int tokens = qkv.h() * qkv.w();
                long map = fullOf(n.inputs().get(0), cache);
                long queries = alloc((long) c * out.positions());
                gatherTiles(map, c, out, 0, 0, qkv.h(), qkv.w(), queries);
                attention(queries, out.positions(), c, map, tokens, alloc((long) out.positions() * tokens), result);
            } else if (op instanceof Op.GroupNorm) {
                long affine = cache.affineEntry(n.name(), DeviceBuffer.class).address;
                channelAffine(tilesOf(n.inputs().get(0), in), result, affine, affine + 4L * c, c, in.positions(), (long) c * in.positions(), null);
                tileKernel("zero_padding", result, 0, in, c);
            } else {
                long[] args = new long[n.inputs().size()];
                Shape[] shapes = new Shape[args.length];
                for (int i = 0; i < args.length; i++) {
                    Value a = n.inputs().get(i);
                    args[i] = a.shape().rank() == 2 ? fullOf(a, cache) : tilesOf(a, in);
                    shapes[i] = a.shape();
                }
                pointwise(n, args, shapes, result, 1, c, in.positions(), null);
                if (!(op instanceof Op.Activation)) tileKernel("zero_padding", result, 0, in, c);
            }
        }
        putTiles(v, out, result);
        tiledAs.put(v.id(), out);
    }

    /** The full map of {@code v} in this pass: computed, scattered, an input, or (unchanged) cached. */
    private long fullOf(Value v, ActivationCache cache) {
        if (full[v.id()] != 0) return full[v.id()];
        if (planner.changed(v)) throw new IllegalStateException("value " + v.id() + " has no full map in this plan");
        return full[v.id()] = cache.entry(v.id(), DeviceBuffer.class).address;
    }

    private long tilesOf(Value v, TileGeometry g) {
        Long t = tiles.getOrDefault(v.id(), Map.of()).get(g);
        if (t == null) throw new IllegalStateException("value " + v.id() + " has no tiles in " + g);
        return t;
    }

    private void putTiles(Value v, TileGeometry g, long address) {
        tiles.computeIfAbsent(v.id(), id -> new HashMap<>()).put(g, address);
    }

    /** Writes this pass's changed cached values into the cache: whole maps, or tiles over the old map. */
    private void writeBack(ActivationCache cache) {
        for (int id : cache.valueIds()) {
            if (!planner.changed(graph.valueById(id))) continue;
            DeviceBuffer entry = cache.entry(id, DeviceBuffer.class);
            syncedWith.remove(id); // the working map may predate this update: copy the cache in whole next time
            if (full[id] != 0) {
                copy(full[id], entry.address, entry.bytes());
            } else if (tiledAs.containsKey(id)) {
                TileGeometry g = tiledAs.get(id);
                tileKernel("scatter", tilesOf(graph.valueById(id), g), entry.address, g, graph.valueById(id).shape().c());
            }
        }
        sync();
    }

    // ---------------------------------------------------------------- memory

    /** A transient buffer of {@code elements} at the storage precision, freed when the pass ends. */
    private long alloc(long elements) {
        return allocBytes(elements * elementBytes);
    }

    private long alloc32(long floats) {
        return allocBytes(floats * Float.BYTES);
    }

    private long allocBytes(long bytes) {
        Pointer p = new Pointer();
        CudaDevice.check(cudaMallocAsync(p, Math.max(bytes, 1), stream), "cudaMallocAsync(" + bytes + " bytes)");
        transients.add(p.address());
        return p.address();
    }

    /** Frees a transient buffer before the pass ends (stream-ordered: after the kernels that read it). */
    private void free(long address) {
        transients.remove(address);
        CudaDevice.check(cudaFreeAsync(CudaDevice.at(address), stream), "cudaFreeAsync");
    }

    private void endPass() {
        for (long t : transients) cudaFreeAsync(CudaDevice.at(t), stream);
        transients.clear();
        Arrays.fill(full, 0);
        Arrays.fill(owned, false);
        originsAt.clear();
        tiledAs.clear();
        tiles.clear();
        sync();
    }

    private DeviceBuffer copyToNew(long src, long bytes) {
        DeviceBuffer b = DeviceBuffer.allocate(bytes);
        copy(src, b.address, bytes);
        return b;
    }

    private void copy(long src, long dst, long bytes) {
        CudaDevice.check(cudaMemcpyAsync(CudaDevice.at(dst), CudaDevice.at(src), bytes, cudaMemcpyDeviceToDevice, stream),
                "cudaMemcpyAsync (device to device)");
    }

    /** A host tensor on the device at the storage precision (transient). */
    private long upload(Tensor t) {
        long f32 = alloc32(t.size());
        try (FloatPointer host = new FloatPointer(t.data())) {
            CudaDevice.check(cudaMemcpyAsync(CudaDevice.at(f32), host, 4L * t.size(), cudaMemcpyHostToDevice, stream), "cudaMemcpyAsync (upload)");
            sync(); // the host buffer may change once we return
        }
        if (!half) return f32;
        long h = alloc(t.size());
        kernels.callExact("to_half").ptr(f32).ptr(h).l(t.size()).launch(t.size());
        return h;
    }

    /** The map at {@code address} as a float32 host tensor (waits for the stream). */
    private Tensor download(long address, Shape shape) {
        long src = address;
        if (half) {
            src = alloc32(shape.size());
            kernels.callExact("to_float").ptr(address).ptr(src).l(shape.size()).launch(shape.size());
        }
        Tensor t = Tensor.zeros(shape);
        try (FloatPointer host = new FloatPointer(t.data())) {
            CudaDevice.check(cudaMemcpyAsync(host, CudaDevice.at(src), 4L * shape.size(), cudaMemcpyDeviceToHost, stream), "cudaMemcpyAsync (download)");
            sync();
        }
        return t;
    }

    private void sync() {
        CudaDevice.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    private static void checkBlas(int status, String call) {
        if (status != CUBLAS_STATUS_SUCCESS) throw new dev.tessera.DeviceException(call + " failed: cuBLAS status " + status);
    }

    @Override
    public void close() {
        CudaDevice.bindThread();
        sync();
        for (DeviceBuffer b : working.values()) b.close();
        working.clear();
        dirty.clear();
        syncedWith.clear();
        origins.close();
        staging.close();
        convolutions.close();
        cublasDestroy_v2(blas);
        kernels.close();
        alpha.close();
        beta.close();
        cudaStreamDestroy(stream);
    }
}
