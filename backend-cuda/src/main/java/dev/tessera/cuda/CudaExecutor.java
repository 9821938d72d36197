package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cublas.*;
import static org.bytedeco.cuda.global.cudart.*;

import dev.tessera.runtime.backend.DeviceExecutor;
import dev.tessera.runtime.backend.StepProfile;
import dev.tessera.runtime.backend.Inputs;
import dev.tessera.runtime.graph.DenseSchedule;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.StepLanes;
import dev.tessera.runtime.sparse.TileGeometry;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUgraphExec_st;
import org.bytedeco.cuda.cudart.CUgraph_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.jspecify.annotations.Nullable;

/**
 * Runs one graph on the GPU: dense and full passes node by node, sparse passes step by step as the
 * {@link SparsePlan} says (the steps themselves are {@link DeviceExecutor}'s, shared with the Vulkan
 * backend). Dense passes run on one stream; a sparse pass spreads its steps over up to
 * {@link #LANES} streams as {@link StepLanes} says, so that steps that do not depend on each other
 * run side by side ({@link Lane}: each stream with its own handles, workspaces and transient
 * memory). A pass synchronizes once, when its output is downloaded.
 *
 * <p>Launch overhead: a pass that repeats the previous one (a dense pass after a dense pass, the
 * same plan again: every re-run of an edit, and every step of an SDEdit edit, each against its own
 * cache, whose entries the passes then read through copies at fixed addresses, {@code
 * beginSparse}) is captured once as a CUDA graph and then replayed with one launch; its inputs
 * and output live in fixed buffers so the graph stays valid. A new plan's first pass launches
 * eagerly. Not thread-safe: one executor per session.
 */
final class CudaExecutor extends DeviceExecutor<DeviceBuffer> {
    private final CudaModel model;
    /** The executor's streams; the first is where passes start and end, and all of a dense pass runs. */
    private final List<Lane> lanes = new ArrayList<>();
    private final Lane first;
    private final int maxLanes;
    /** The lane that work is enqueued on now: the first, except while a sparse step runs on another. */
    private Lane lane;
    private final FloatPointer alpha = new FloatPointer(1), beta = new FloatPointer(1);
    private final DeviceBuffer[] inputBuffers; // fixed addresses for graph replays
    private final DeviceBuffer output;
    private final PassGraph denseGraph = new PassGraph(), sparseGraph = new PassGraph();
    private final CUevent_st start = new CUevent_st(), stop = new CUevent_st(); // timing conv choices
    private final CUevent_st passStart = new CUevent_st(), passStop = new CUevent_st(); // around each pass
    private final CUevent_st fork = new CUevent_st(); // where the other lanes of a sparse pass start
    private final List<CUevent_st> stepDone = new ArrayList<>(); // by step index, for steps other lanes wait for
    private final StepProfile profile = new StepProfile();

    // Kept between sparse passes.
    private DeviceBuffer planBuffer = DeviceBuffer.allocate(0);
    private int planDataGeneration; // bumped when the plan data changes (graphs that read it are stale)
    private IntPointer staging = new IntPointer(0L);
    private final PinnedStaging pinnedStaging = new PinnedStaging();
    private @Nullable SparsePlan lanedPlan;
    private @Nullable StepLanes stepLanes; // lanedPlan's

    /** @param maxLanes how many streams a sparse pass may spread over (1: one stream, as dense passes) */
    CudaExecutor(CudaModel model, SparsePlanner planner, int maxLanes) {
        super(planner, model.half, DeviceBuffer.class);
        if (maxLanes < 1) throw new IllegalArgumentException("lanes: " + maxLanes);
        this.model = model;
        this.maxLanes = maxLanes;
        CudaDevice.bindThread();
        first = lane = addLane();
        CudaDevice.check(cudaEventCreate(start), "cudaEventCreate");
        CudaDevice.check(cudaEventCreate(stop), "cudaEventCreate");
        CudaDevice.check(cudaEventCreate(passStart), "cudaEventCreate");
        CudaDevice.check(cudaEventCreate(passStop), "cudaEventCreate");
        CudaDevice.check(cudaEventCreateWithFlags(fork, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        inputBuffers = new DeviceBuffer[graph.inputs().size()];
        for (int i = 0; i < inputBuffers.length; i++) {
            inputBuffers[i] = DeviceBuffer.allocate((long) graph.inputs().get(i).shape().size() * elementBytes);
        }
        output = DeviceBuffer.allocate((long) graph.output().shape().size() * elementBytes);
    }

    @Override
    public Tensor dense(Tensor... inputs) {
        Inputs.checkDense(graph, inputs);
        CudaDevice.bindThread();
        beginPass();
        try {
            long t0 = System.nanoTime();
            uploadInputs(inputs);
            long t1 = System.nanoTime();
            CudaDevice.check(cudaEventRecord(passStart, first.stream), "cudaEventRecord");
            if (profile.enabled()) runNodes(null, null);
            else denseGraph.run(generations(), () -> runNodes(null, null));
            return finishPass("dense", t0, t1);
        } finally {
            endPass();
        }
    }

    @Override
    public Tensor full(ActivationCache cache, @Nullable Progress progress, Tensor... inputs) {
        Inputs.checkDense(graph, inputs);
        CudaDevice.bindThread();
        beginPass();
        try {
            uploadInputs(inputs);
            for (int i = 0; i < inputs.length; i++) {
                int id = graph.inputs().get(i).id();
                if (cached[id]) cache.put(id, inputs[i]); // host copy: edits are checked against it
            }
            runNodes(cache, progress);
            return download(output.address, graph.output().shape());
        } finally {
            endPass();
        }
    }

    // ---------------------------------------------------------------- dense and full passes

    /** The graph node by node on the uploaded inputs, leaving the output in {@link #output}; with a cache, filling it. */
    @Override
    protected void runNodes(@Nullable ActivationCache cache, @Nullable Progress progress) {
        if (TIMELINE) mark("start");
        super.runNodes(cache, progress);
        copy(full[graph.output().id()], output.address, output.bytes());
        freeTransients();
    }

    @Override
    protected void nodeDone(Node node, long start) {
        if (TIMELINE) mark(StepProfile.nodeName(node));
        if (profile.enabled()) {
            sync();
            profile.add(StepProfile.key(node), System.nanoTime() - start);
        }
    }

    /** One node on full maps: {@code in} are its inputs' addresses, {@code out} its output's. */
    @Override
    protected void runNode(Node node, long[] in, long out, Op.@Nullable Activation act) {
        Op op = node.op();
        Shape y = node.output().shape();
        Shape x = node.inputs().get(0).shape();
        DeviceBuffer[] p = model.params(node);
        if (op instanceof Op.Conv2d c) {
            conv2d(node, in[0], x, out, y, act);
        } else if (op instanceof Op.GroupNorm g) {
            long plane = (long) y.h() * y.w();
            long affine = alloc32(2L * y.n() * y.c());
            int groups = y.n() * g.groups(), perGroup = y.c() / g.groups();
            long values = (long) perGroup * plane, shift = affine + 4L * y.n() * y.c();
            if (values <= 16384 && perGroup <= 64) { // small maps: one kernel, one block a group
                lane.kernels.call("group_norm_small").ptr(in[0]).ptr(out).ptr(p[0].address).ptr(p[1].address).ptr(affine).ptr(shift)
                        .i(y.c()).i(g.groups()).l(plane).f(g.eps()).i(activationCode(act)).f(slope(act)).launch(groups, 512);
            } else { // partial sums over chunks of 16K values and more, so that large maps fill the GPU
                int chunks = (int) Math.min(64, values / 16384);
                long partial = allocBytes(2L * groups * chunks * Double.BYTES);
                lane.kernels.call("group_norm_partial").ptr(in[0]).ptr(partial).i(y.c()).i(g.groups()).l(plane).i(chunks).launch(chunks, groups, 512);
                lane.kernels.callExact("group_norm_affine").ptr(partial).ptr(p[0].address).ptr(p[1].address).ptr(affine).ptr(shift)
                        .i(y.c()).i(g.groups()).l(plane).i(chunks).f(g.eps()).i(y.n() * y.c()).launch(y.n() * y.c());
                free(partial);
                channelAffine(in[0], out, affine, shift, y.n() * y.c(), (int) plane, y.n() * y.c(), act);
            }
            lastNormAffine = affine;
        } else if (op instanceof Op.ResizeNearest) {
            lane.kernels.call("resize_nearest").ptr(in[0]).ptr(out).ptr(model.nearestIndex(x.h(), y.h())).ptr(model.nearestIndex(x.w(), y.w()))
                    .i(x.h()).i(x.w()).i(y.h()).i(y.w()).i(y.n() * y.c()).launch2d((long) y.h() * y.w(), y.n() * y.c());
        } else if (op instanceof Op.SelfAttention) {
            int c = y.c();
            int tokens = y.h() * y.w();
            long scores = alloc((long) tokens * tokens);
            for (int n = 0; n < y.n(); n++) {
                long q = in[0] + (long) n * 3 * c * tokens * elementBytes;
                attention(node, q, tokens, c, q, tokens, scores, out + (long) n * c * tokens * elementBytes);
            }
        } else if (op instanceof Op.Linear l) {
            int rows = x.dim(0), features = y.dim(1), inF = x.dim(1);
            gemm(false, true, rows, features, inF, 1f, in[0], inF, p[0].address, inF, 0f, out, features);
            channelAffine(out, out, 0, p[1].address, features, 1, y.size(), null);
        } else if (op instanceof Op.TimestepEmbedding t) {
            lane.kernels.call("timestep_embedding").ptr(in[0]).ptr(out).i(t.dim()).i(x.dim(0)).launch2d(t.dim(), x.dim(0));
        } else {
            Shape[] shapes = new Shape[node.inputs().size()];
            for (int i = 0; i < shapes.length; i++) shapes[i] = node.inputs().get(i).shape();
            pointwise(node, in, shapes, out, y.dim(0), y.dim(1), y.size() / (y.dim(0) * y.dim(1)), act);
        }
    }

    /**
     * Ops that treat a map as [N, C, plane] planes, on full maps or on tiles (N = 1, plane = tile
     * positions): norms, SPADE, activations, adds, concats, slices.
     */
    private void pointwise(Node node, long[] in, Shape[] shapes, long out, int n, int c, int plane, Op.@Nullable Activation act) {
        Op op = node.op();
        DeviceBuffer[] p = model.params(node);
        int rows = n * c;
        if (op instanceof Op.BatchNorm) {
            channelAffine(in[0], out, p[0].address, p[1].address, c, plane, rows, act);
        } else if (op instanceof Op.Spade) {
            lane.kernels.call("spade").ptr(in[0]).ptr(in[1]).ptr(out).ptr(p[0].address).ptr(p[1].address).i(c).i(plane).i(rows)
                    .i(activationCode(act)).f(slope(act)).launch2d(packs(plane), rows);
        } else if (op instanceof Op.Activation a) {
            channelAffine(in[0], out, 0, 0, 1, plane, rows, a);
        } else if (op instanceof Op.Add) {
            boolean perChannel = shapes[1].rank() == 2;
            lane.kernels.call("add").ptr(in[0]).ptr(in[1]).ptr(out).i(plane).i(perChannel ? 1 : 0).i(rows)
                    .i(activationCode(act)).f(slope(act)).launch2d(packs(plane), rows);
        } else if (op instanceof Op.Concat) { // two inputs a launch
            int at = 0;
            for (int i = 0; i < in.length; i += 2) {
                int ca = shapes[i].c(), cb = i + 1 < in.length ? shapes[i + 1].c() : 0;
                lane.kernels.call("concat2").ptr(in[i]).i(ca).ptr(cb > 0 ? in[i + 1] : 0).i(cb).ptr(out).i(c).i(at).i(plane)
                        .i(n * (ca + cb)).launch2d(packs(plane), n * (ca + cb));
                at += ca + cb;
            }
        } else if (op instanceof Op.SliceChannels s) {
            copyChannels(in[0], shapes[0].dim(1), s.start(), out, c, 0, s.count(), n, plane);
        } else {
            throw new IllegalStateException("no CUDA kernel for " + op);
        }
    }

    private void conv2d(Node node, long x, Shape xs, long out, Shape ys, Op.@Nullable Activation act) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        DeviceBuffer[] p = model.params(node);
        ConvWay way = mapWay(node, x, xs, out, ys, act);
        mapConv(way, node, x, xs, out, ys, act);
        long bias = way.addsBias() ? 0 : DeviceBuffer.addressOf(p[1]);
        Op.@Nullable Activation left = way.addsActivation() ? null : act;
        if (bias != 0 || left != null) channelAffine(out, out, 0, bias, ys.c(), ys.h() * ys.w(), ys.n() * ys.c(), left);
    }

    /** The way of a full-map conv, timed the first time its shape comes (into {@code out}). */
    private ConvWay mapWay(Node node, long x, Shape xs, long out, Shape ys, Op.@Nullable Activation act) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        return choice(new ConvShape(c, xs), node, node.name() + " " + xs, 3, () -> {
            cudnnConv(c, model.params(node)[0].address, x, xs, out, ys); // plans cuDNN and sizes its workspace outside the timing's capture
            return mapWays(node, xs, ys);
        }, w -> mapConv(w, node, x, xs, out, ys, act));
    }

    /**
     * A conv with its fused add: where the conv runs as im2col + GEMM and the bias is written before
     * the product, the output starts from bias plus addend and the add costs no launch (DDPM's
     * timestep and residual adds on its low-resolution maps); otherwise conv, then add.
     */
    @Override
    protected void runConvWithAdd(Node conv, long[] in, long out, Node add, long addend) {
        Op.Conv2d c = (Op.Conv2d) conv.op();
        Shape xs = conv.inputs().get(0).shape(), ys = conv.output().shape();
        boolean perChannel = DenseSchedule.addend(add, conv).shape().rank() == 2;
        if (mapWay(conv, in[0], xs, out, ys, null) == ConvWay.GEMM && gemmStartsFromAddend(c, perChannel)) {
            DeviceBuffer[] p = model.params(conv);
            gemmConv(c, p[0].address, DeviceBuffer.addressOf(p[1]), in[0], xs, out, ys, addend, perChannel);
        } else {
            super.runConvWithAdd(conv, in, out, add, addend);
        }
    }

    /** What a full-map conv's choice depends on. */
    record ConvShape(Op.Conv2d op, Shape input) {}

    /**
     * How a convolution runs: cuDNN (full maps only), im2col + one cuBLAS product, the same product
     * split along K into slices (summed with the bias), Winograd F(4x4, 3x3) or F(2x2, 3x3) (our
     * transforms, batched cuBLAS products, the bias added by the inverse transform), (float16) our
     * implicit GEMM on tensor cores, or (3x3 convs to at most 4 channels) our direct conv_narrow;
     * the last two add bias and activation.
     */
    enum ConvWay {
        CUDNN(0), GEMM(0), SPLIT_GEMM(0), WINOGRAD_4(4), WINOGRAD_2(2), IMPLICIT_GEMM(0), NARROW(0);

        /** Winograd's output block, 0 for the other ways. */
        final int block;

        ConvWay(int block) {
            this.block = block;
        }

        boolean addsBias() {
            return this != CUDNN;
        }

        /** Whether the way applies a full-map conv's fused activation itself. */
        boolean addsActivation() {
            return this == IMPLICIT_GEMM || this == NARROW;
        }
    }

    /**
     * The ways worth timing for a full-map convolution. cuDNN wins on large maps; on the small
     * low-resolution maps, few output tiles leave most of the GPU idle, and a product split along K
     * or Winograd's batched products fill it better. Timing Winograd makes its transformed weights
     * (up to 4x the conv's weight memory, freed again if it loses): only maps of at most 64x64, or
     * convs whose F(4x4) weights fit in 4 MiB (few channels, like an RGB output conv), try it.
     */
    private List<ConvWay> mapWays(Node node, Shape xs, Shape ys) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        List<ConvWay> ways = new ArrayList<>(List.of(ConvWay.CUDNN, ConvWay.GEMM));
        if (xs.n() == 1 && splitSlices(c.outChannels(), ys.h() * ys.w(), c.inChannels() * c.kernelH() * c.kernelW()) > 1) {
            ways.add(ConvWay.SPLIT_GEMM);
        }
        long winogradBytes = 36L * c.outChannels() * c.inChannels() * Float.BYTES;
        if (xs.n() == 1 && ((long) ys.h() * ys.w() <= 64 * 64 || winogradBytes <= 4 << 20)) addWinograd(ways, node, ys.h(), ys.w());
        if (xs.n() == 1 && implicitFits(xs.size(), xs.h(), xs.w())) ways.add(ConvWay.IMPLICIT_GEMM);
        if (c.outChannels() <= NARROW_MAX_OUT && c.kernelH() == 3 && c.kernelW() == 3 && c.stride() == 1) ways.add(ConvWay.NARROW);
        return ways;
    }

    /** conv_narrow's most output channels, output block (wide x high) and threads a block, as in the .cu file. */
    static final int NARROW_MAX_OUT = 4, NARROW_W = 32, NARROW_H = 8, NARROW_THREADS = 128;

    /** A full-map conv; {@code act} is applied only by the ways that {@linkplain ConvWay#addsActivation add it}. */
    private void mapConv(ConvWay way, Node node, long x, Shape xs, long out, Shape ys, Op.@Nullable Activation act) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        DeviceBuffer[] p = model.params(node);
        switch (way) {
            case CUDNN -> cudnnConv(c, p[0].address, x, xs, out, ys);
            case GEMM -> gemmConv(c, p[0].address, DeviceBuffer.addressOf(p[1]), x, xs, out, ys, 0, false);
            case SPLIT_GEMM -> {
                int k = c.inChannels() * c.kernelH() * c.kernelW(), plane = ys.h() * ys.w();
                long cols = alloc((long) k * plane);
                mapIm2col(c, x, xs, ys, 0, ys.h(), cols, 0, 0, 0, 0, false);
                splitGemm(p[0].address, cols, c.outChannels(), plane, k, p[1], out);
                free(cols);
            }
            case WINOGRAD_4, WINOGRAD_2 -> winogradConv(way.block, node, x, 1, xs.h(), xs.w(), ys.h(), ys.w(), c.padding().top(),
                    c.padding().left(), out);
            case IMPLICIT_GEMM -> implicitConv(node, x, 1, xs.h(), xs.w(), ys.h(), ys.w(), c.padding().top(), c.padding().left(), out, act);
            case NARROW -> lane.kernels.call("conv_narrow").ptr(x).ptr(p[0].address).ptr(DeviceBuffer.addressOf(p[1])).ptr(out)
                    .i(c.inChannels()).i(c.outChannels()).i(xs.h()).i(xs.w()).i(ys.h()).i(ys.w()).i(c.padding().top())
                    .i(c.padding().left()).i(activationCode(act)).f(slope(act))
                    .launch((ys.w() + NARROW_W - 1) / NARROW_W, (ys.h() + NARROW_H - 1) / NARROW_H, ys.n(), NARROW_THREADS);
        }
    }

    /**
     * How the conv {@code node} runs for {@code key}: the model's choice, or, the first time, the
     * fastest of {@code ways} by {@link #fastest}, recorded in the model. One timing at a time per
     * model: a choice may free Winograd weights that another timing would read.
     */
    private ConvWay choice(Object key, Node node, String what, int rounds, Supplier<List<ConvWay>> ways, Consumer<ConvWay> run) {
        ConvWay way = model.convWays.get(key);
        if (way != null) return way;
        synchronized (model) {
            way = model.convWays.get(key);
            if (way == null) {
                way = fastest(what, ways.get(), rounds, run);
                model.chose(key, node, way);
            }
            return way;
        }
    }

    /**
     * The fastest of {@code ways} by GPU time, the best of {@code rounds} runs each (as
     * cudnn.benchmark times cuDNN's own algorithms): decided once per model for each conv shape
     * (three rounds), or for each conv and tile count (one round: a new edit may ask for it).
     */
    private ConvWay fastest(String what, List<ConvWay> ways, int rounds, Consumer<ConvWay> run) {
        if (ways.size() == 1) return ways.get(0);
        for (Lane l : lanes) l.sync(); // work of other lanes would share the GPU with the timing
        float[] ms = new float[ways.size()];
        Arrays.fill(ms, Float.MAX_VALUE);
        int best = 0;
        for (int i = 0; i < rounds; i++) {
            for (int w = 0; w < ms.length; w++) {
                ConvWay way = ways.get(w);
                ms[w] = Math.min(ms[w], gpuMillis(() -> run.accept(way)));
                if (ms[w] < ms[best]) best = w;
            }
        }
        if (CONV_WAYS) System.err.printf("conv %s: %s of %s, %s ms%n", what, ways.get(best), ways, Arrays.toString(ms));
        return ways.get(best);
    }

    /** Prints each conv's choice and the times it was made from (-Dtessera.cuda.convWays=true, on stderr). */
    private static final boolean CONV_WAYS = Boolean.getBoolean("tessera.cuda.convWays");

    /**
     * GPU time of what {@code work} enqueues: captured as a graph (its transient buffers freed
     * inside), so the host's launch overhead, which graph replays do not pay, is not measured.
     */
    private float gpuMillis(Runnable work) {
        CudaDevice.check(cudaStreamBeginCapture(lane.stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
        CUgraph_st g = new CUgraph_st();
        int mark = lane.transients.size();
        try {
            work.run();
            while (lane.transients.size() > mark) free(lane.transients.get(lane.transients.size() - 1));
        } finally {
            CudaDevice.check(cudaStreamEndCapture(lane.stream, g), "cudaStreamEndCapture");
        }
        CUgraphExec_st exec = new CUgraphExec_st();
        CudaDevice.check(cudaGraphInstantiate(exec, g, 0L), "cudaGraphInstantiate");
        cudaGraphDestroy(g);
        try {
            CudaDevice.check(cudaGraphLaunch(exec, lane.stream), "cudaGraphLaunch"); // warm-up
            CudaDevice.check(cudaEventRecord(start, lane.stream), "cudaEventRecord");
            CudaDevice.check(cudaGraphLaunch(exec, lane.stream), "cudaGraphLaunch");
            CudaDevice.check(cudaEventRecord(stop, lane.stream), "cudaEventRecord");
            CudaDevice.check(cudaEventSynchronize(stop), "cudaEventSynchronize");
            float[] ms = {0};
            CudaDevice.check(cudaEventElapsedTime(ms, start, stop), "cudaEventElapsedTime");
            return ms[0];
        } finally {
            cudaGraphExecDestroy(exec);
        }
    }

    /** Channels a gather thread reads of its pixel, as in the .cu file. */
    static final int GATHER_CHANNELS = 8;

    /** Threads of an im2col block, and rows a thread copies a group, as in the .cu file. */
    static final int IM2COL_THREADS = 256, IM2COL_ROWS = 8;

    /**
     * Ends the arguments of an im2col kernel with its span and launches it over a [rows, columns]
     * matrix: a block covers span columns (a multiple of 32) of IM2COL_THREADS / span row groups, so
     * that few columns leave no thread idle.
     */
    private void launchIm2col(long columns, int rows) {
        int span = (int) Math.min(IM2COL_THREADS, (columns + 31) / 32 * 32), per = IM2COL_THREADS / span;
        int groups = (rows + IM2COL_ROWS - 1) / IM2COL_ROWS;
        lane.kernels.i(span).launch((int) ((columns + span - 1) / span), Math.min(65535, (groups + per - 1) / per), IM2COL_THREADS);
    }

    /**
     * The bias that the im2col kernel of a GEMM conv writes into its output for the product to add
     * to ({@link #im2colFillsOutput}); 0 where the bias is added after the product.
     */
    private static long filledBias(Op.Conv2d c, long bias) {
        return im2colFillsOutput(c) ? bias : 0;
    }

    /**
     * Whether the im2col kernel of conv {@code c} may write the product's starting values (bias,
     * addend) into its output: only where the conv has no more output channels than im2col rows, so
     * that a thread fills no more rows of its column than it copies. An RGB input conv (27 rows, 128
     * channels) adds its bias after its product.
     */
    private static boolean im2colFillsOutput(Op.Conv2d c) {
        return c.outChannels() <= c.inChannels() * c.kernelH() * c.kernelW();
    }

    /** Elements of one im2col panel: whole output rows, at most this many (64 MiB in float16). */
    private static final long PANEL_ELEMENTS = 32L << 20;

    /** Whether {@link #gemmConv} can start conv {@code c}'s output from an addend (a map, or one value a channel when perChannel). */
    private static boolean gemmStartsFromAddend(Op.Conv2d c, boolean perChannel) {
        return isDirect(c) ? !perChannel : im2colFillsOutput(c);
    }

    /** A 1x1 stride-1 unpadded conv, which multiplies its input map directly (no im2col). */
    private static boolean isDirect(Op.Conv2d c) {
        return c.kernelH() == 1 && c.kernelW() == 1 && c.stride() == 1 && c.padding().equals(Op.Padding.same(0));
    }

    /**
     * A convolution of full maps as im2col panels (whole output rows) times the weight matrix on
     * cuBLAS, added to the bias that the im2col kernel writes into the output ({@link #filledBias});
     * a 1x1 stride-1 unpadded convolution multiplies the map directly and adds the bias after. With
     * an addend (not 0; {@link #gemmStartsFromAddend}: a map like the output, or one value a sample
     * and channel when perChannel), the product also adds to it: the im2col kernel writes it with
     * the bias, or (1x1) one channel affine writes addend plus bias before the product.
     */
    private void gemmConv(Op.Conv2d c, long weight, long bias, long x, Shape xs, long out, Shape ys, long addend, boolean perChannel) {
        int k = c.inChannels() * c.kernelH() * c.kernelW();
        int plane = ys.h() * ys.w();
        boolean direct = isDirect(c);
        long filled = direct ? 0 : filledBias(c, bias);
        int rowsPerPanel = (int) Math.max(1, Math.min(ys.h(), PANEL_ELEMENTS / ((long) k * ys.w())));
        long cols = direct ? 0 : alloc((long) k * rowsPerPanel * ys.w());
        for (int n = 0; n < xs.n(); n++) {
            long xn = x + (long) n * xs.c() * xs.h() * xs.w() * elementBytes, yn = out + (long) n * ys.c() * plane * elementBytes;
            long an = addend == 0 ? 0 : addend + (long) n * ys.c() * (perChannel ? 1 : plane) * elementBytes;
            if (direct) {
                if (an != 0) channelAffine(an, yn, 0, bias, ys.c(), plane, ys.c(), null);
                gemm(false, false, c.outChannels(), plane, k, 1f, weight, k, xn, plane, an != 0 ? 1f : 0f, yn, plane);
                continue;
            }
            for (int y0 = 0; y0 < ys.h(); y0 += rowsPerPanel) {
                int rows = Math.min(rowsPerPanel, ys.h() - y0), columns = rows * ys.w();
                long panel = yn + (long) y0 * ys.w() * elementBytes;
                long addPanel = an == 0 || perChannel ? an : an + (long) y0 * ys.w() * elementBytes;
                mapIm2col(c, xn, xs, ys, y0, rows, cols, panel, plane, filled, addPanel, perChannel);
                gemm(false, false, c.outChannels(), columns, k, 1f, weight, k, cols, columns, filled != 0 || an != 0 ? 1f : 0f, panel,
                        plane);
            }
        }
        if (cols != 0) free(cols);
        boolean biasBefore = direct ? addend != 0 : bias == filled;
        if (!biasBefore) channelAffine(out, out, 0, bias, ys.c(), plane, ys.n() * ys.c(), null);
    }

    /**
     * The im2col columns [k, rows * ow] of output rows [y0, y0 + rows) of one sample x of a padded,
     * strided conv; with a bias (not 0), also out[co, j] = bias[co] (+ addend, if not 0) for those
     * rows' j (row stride ldo).
     */
    private void mapIm2col(Op.Conv2d c, long x, Shape xs, Shape ys, int y0, int rows, long cols, long out, int ldo, long bias,
            long addend, boolean perChannel) {
        int k = c.inChannels() * c.kernelH() * c.kernelW();
        lane.kernels.call("map_im2col").ptr(x).ptr(cols).i(xs.h()).i(xs.w()).i(c.kernelH()).i(c.kernelW()).i(c.stride())
                .i(c.padding().top()).i(c.padding().left()).i(ys.w()).i(y0).i(rows).i(k).ptr(out).i(ldo).ptr(bias).i(c.outChannels())
                .ptr(addend).i(perChannel ? 1 : 0);
        launchIm2col((long) rows * ys.w(), k);
    }

    /**
     * How many slices of K {@link #splitGemm} cuts an [m, n] x K product into: enough for about two
     * blocks per multiprocessor when cuBLAS tiles the output in 128 x 128 blocks, at least 64 of K a
     * slice; 1 when the product fills the GPU unsplit.
     */
    private int splitSlices(int m, int n, int k) {
        long tiles = (long) ((m + 127) / 128) * ((n + 127) / 128);
        return (int) Math.max(1, Math.min(2L * model.device.multiprocessors / tiles, k / 64));
    }

    /**
     * {@code out[m, n] = W[m, k] cols[k, n] + bias} with K split into slices: their float32 partial
     * products (one strided batched GEMM, and one more for a shorter last slice), summed with the
     * bias by sum_slices. For products whose few output tiles would leave the GPU idle.
     */
    private void splitGemm(long weight, long cols, int m, int n, int k, @Nullable DeviceBuffer bias, long out) {
        int wanted = splitSlices(m, n, k);
        int per = ((k + wanted - 1) / wanted + 31) / 32 * 32; // slices of 32 keep every slice aligned for cuBLAS's fast kernels
        int whole = k / per, slices = (k + per - 1) / per;
        long partial = allocBytes((long) slices * m * n * Float.BYTES);
        int type = half ? CUDA_R_16F : CUDA_R_32F;
        alpha.put(0, 1f);
        beta.put(0, 0f);
        // Slice s: partial[s][m, n] = W[:, s*per ..][m, per] x cols[s*per .., :][per, n], as column-major partial^T = cols_s^T W_s^T.
        if (whole > 0) {
            CudaDevice.checkBlas(cublasGemmStridedBatchedEx(lane.blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, per, alpha, CudaDevice.at(cols), type, n,
                    (long) per * n, CudaDevice.at(weight), type, k, per, beta, CudaDevice.at(partial), CUDA_R_32F, n, (long) m * n,
                    whole, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "cublasGemmStridedBatchedEx");
        }
        if (whole < slices) {
            CudaDevice.checkBlas(cublasGemmEx(lane.blas, CUBLAS_OP_N, CUBLAS_OP_N, n, m, k - whole * per, alpha,
                    CudaDevice.at(cols + (long) whole * per * n * elementBytes), type, n,
                    CudaDevice.at(weight + (long) whole * per * elementBytes), type, k, beta,
                    CudaDevice.at(partial + (long) whole * m * n * Float.BYTES), CUDA_R_32F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                    "cublasGemmEx");
        }
        lane.kernels.call("sum_slices").ptr(partial).ptr(out).ptr(DeviceBuffer.addressOf(bias)).i(m).i(n).i(slices).launch2d(n, m);
        free(partial);
    }

    private void cudnnConv(Op.Conv2d c, long weight, long x, Shape xs, long out, Shape ys) {
        Op.Padding pad = c.padding();
        long input = x;
        Shape in = xs;
        int padH = pad.top(), padW = pad.left();
        if (pad.top() != pad.bottom() || pad.left() != pad.right()) { // cuDNN pads symmetrically: pad explicitly
            in = Shape.nchw(xs.n(), xs.c(), xs.h() + pad.top() + pad.bottom(), xs.w() + pad.left() + pad.right());
            input = alloc(in.size());
            lane.kernels.call("pad").ptr(x).ptr(input).i(xs.h()).i(xs.w()).i(pad.top()).i(pad.left()).i(in.h()).i(in.w())
                    .i(in.n() * in.c()).launch2d((long) in.h() * in.w(), in.n() * in.c());
            padH = 0;
            padW = 0;
        }
        lane.convolutions.run(c, weight, input, in, out, ys, padH, padW);
    }

    /**
     * A padding-free convolution of every tile: as one GEMM {@code out[Cout, tiles*oh*ow] =
     * W[Cout, Cin*kh*kw] x cols} (on tensor cores in half mode), the same split along K, or (3x3,
     * float32) Winograd, whichever is fastest for the conv at about this many tiles (timed on first
     * use). A 1x1 stride-1 convolution multiplies the tiles directly. (cuDNN on the same tiles, read
     * as a strided N = tiles batch, measured 3-5x slower on an H100: its fast kernels want packed tensors.)
     */
    @Override
    protected void tileConv(Node node, long x, TileGeometry in, long out, TileGeometry og) {
        if (og.count() == 0) return;
        ConvWay way = choice(new TileConvKey(node, Integer.highestOneBit(og.count())), node, node.name() + " on " + og, 1,
                () -> tileWays(node, in, og), w -> tileConv(w, node, x, in, out, og));
        tileConv(way, node, x, in, out, og);
    }

    /** Tile convs choose their way per conv and tile count, rounded down to a power of 2. */
    record TileConvKey(Node node, int tiles) {}

    private List<ConvWay> tileWays(Node node, TileGeometry in, TileGeometry og) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        List<ConvWay> ways = new ArrayList<>(List.of(ConvWay.GEMM));
        if (splitSlices(c.outChannels(), og.positions(), c.inChannels() * c.kernelH() * c.kernelW()) > 1) ways.add(ConvWay.SPLIT_GEMM);
        addWinograd(ways, node, og.tileHeight(), og.tileWidth());
        if (implicitFits((long) c.inChannels() * in.positions(), in.tileHeight(), in.tileWidth())) ways.add(ConvWay.IMPLICIT_GEMM);
        return ways;
    }

    private void tileConv(ConvWay way, Node node, long x, TileGeometry in, long out, TileGeometry og) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        DeviceBuffer[] p = model.params(node);
        if (way.block > 0) {
            winogradConv(way.block, node, x, in.count(), in.tileHeight(), in.tileWidth(), og.tileHeight(), og.tileWidth(), 0, 0, out);
            return;
        }
        if (way == ConvWay.IMPLICIT_GEMM) {
            implicitConv(node, x, in.count(), in.tileHeight(), in.tileWidth(), og.tileHeight(), og.tileWidth(), 0, 0, out, null);
            return;
        }
        int k = c.inChannels() * c.kernelH() * c.kernelW();
        int positions = og.positions();
        long bias = DeviceBuffer.addressOf(p[1]);
        long cols = x, filled = 0; // the bias the im2col kernel wrote into out, for the GEMM way's product to add to
        if (c.kernelH() != 1 || c.kernelW() != 1 || c.stride() != 1) {
            cols = alloc((long) k * positions);
            filled = way == ConvWay.GEMM ? filledBias(c, bias) : 0;
            lane.kernels.call("tile_im2col").ptr(x).ptr(cols).i(in.count()).i(in.tileHeight()).i(in.tileWidth()).i(c.kernelH())
                    .i(c.kernelW()).i(c.stride()).i(og.tileHeight()).i(og.tileWidth()).i(k).ptr(out).i(positions).ptr(filled)
                    .i(c.outChannels());
            launchIm2col(positions, k);
        }
        if (way == ConvWay.SPLIT_GEMM) {
            splitGemm(p[0].address, cols, c.outChannels(), positions, k, p[1], out);
        } else {
            gemm(false, false, c.outChannels(), positions, k, 1f, p[0].address, k, cols, positions, filled != 0 ? 1f : 0f, out, positions);
            if (bias != filled) channelAffine(out, out, 0, bias, c.outChannels(), positions, c.outChannels(), null);
        }
        if (cols != x) free(cols);
    }

    /** conv_igemm_f16's output block (Cout x positions) and threads a block, as in the .cu file. */
    static final int IMPLICIT_BLOCK_M = 128, IMPLICIT_BLOCK_N = 64, IMPLICIT_THREADS = 256;
    /** Output blocks of one conv_igemm_f16 launch that may split K (one counter each); larger convs run unsplit. */
    private static final int IMPLICIT_MAX_BLOCKS = 1 << 14;

    /** Whether conv_igemm_f16 can read an input of this many elements in maps this high and wide (float16 mode). */
    private boolean implicitFits(long elements, int h, int w) {
        return half && elements < Integer.MAX_VALUE && h < 16384 && w < 16384;
    }

    /**
     * A float16 conv as conv_igemm_f16: x is [Cin, count, h, w] (tiles, or one map read with zero
     * padding top and left), out [Cout, count, oh, ow] = act(conv + bias). K is split into up to 8
     * slices (at least 64 of K each) so that the launch has about one block per multiprocessor: a
     * product with few output blocks (few tiles, or a small map) still fills the GPU. (Timed on an
     * H100 with tools/device/conv_bench.cu: more slices cost more in the sum than they gain.)
     */
    private void implicitConv(Node node, long x, int count, int h, int w, int oh, int ow, int top, int left, long out,
            Op.@Nullable Activation act) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        DeviceBuffer[] p = model.params(node);
        int k = c.inChannels() * c.kernelH() * c.kernelW(), positions = count * oh * ow;
        int blocksN = (positions + IMPLICIT_BLOCK_N - 1) / IMPLICIT_BLOCK_N;
        int blocksM = (c.outChannels() + IMPLICIT_BLOCK_M - 1) / IMPLICIT_BLOCK_M;
        int blocks = blocksN * blocksM, steps = (k + 31) / 32;
        int slices = blocks > IMPLICIT_MAX_BLOCKS ? 1
                : Math.max(1, Math.min(Math.round((float) model.device.multiprocessors / blocks), Math.min(8, steps / 2)));
        int perSlice = (steps + slices - 1) / slices * 32;
        slices = (k + perSlice - 1) / perSlice;
        long partial = slices > 1 ? allocBytes((long) slices * c.outChannels() * positions * Float.BYTES) : 0;
        lane.kernels.callExact("conv_igemm_f16").ptr(x).ptr(p[0].address).ptr(DeviceBuffer.addressOf(p[1])).ptr(out).ptr(partial)
                .ptr(lane.arrivals.address).i(count).i(h).i(w).i(c.inChannels()).i(c.outChannels()).i(c.kernelH()).i(c.kernelW())
                .i(c.stride()).i(top).i(left).i(oh).i(ow).i(perSlice).i(activationCode(act)).f(slope(act))
                .launch(blocksN, blocksM, slices, IMPLICIT_THREADS);
        if (partial != 0) free(partial);
    }

    /** Winograd convs on or off (-Dtessera.cuda.winograd=false), to compare. */
    private static final boolean WINOGRAD = !"false".equals(System.getProperty("tessera.cuda.winograd"));

    /**
     * Adds the Winograd ways that fit a conv with outputs (tiles or a map) of oh x ow: float32, 3x3,
     * stride 1, oh and ow multiples of the output block. Their weights are made here, outside the
     * timing's capture.
     */
    private void addWinograd(List<ConvWay> ways, Node node, int oh, int ow) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        if (!WINOGRAD || half || c.kernelH() != 3 || c.kernelW() != 3 || c.stride() != 1) return;
        for (ConvWay way : List.of(ConvWay.WINOGRAD_4, ConvWay.WINOGRAD_2)) {
            if (oh % way.block != 0 || ow % way.block != 0) continue;
            winogradWeights(node, way.block);
            ways.add(way);
        }
    }

    private long winogradWeights(Node node, int m) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        int filters = c.outChannels() * c.inChannels();
        return model.winogradWeights(node, m, (w, u) -> lane.kernels.callExact("winograd_weights_" + m).ptr(w).ptr(u).i(filters)
                .launch(filters), this::sync);
    }

    /**
     * A 3x3 stride-1 conv as Winograd F(mxm, 3x3): x is [Cin, count, h, w] (tiles, or one map read
     * with zero padding top and left), out [Cout, count, oh, ow] with the bias added. The input
     * transform, (m+2)^2 batched GEMMs {@code M[f] = U[f] V[f]}, the inverse transform.
     */
    private void winogradConv(int m, Node node, long x, int count, int h, int w, int oh, int ow, int top, int left, long out) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        DeviceBuffer bias = model.params(node)[1];
        int cin = c.inChannels(), cout = c.outChannels(), frequencies = (m + 2) * (m + 2);
        int windows = count * (oh / m) * (ow / m);
        long u = winogradWeights(node, m);
        long v = alloc((long) frequencies * cin * windows), product = alloc((long) frequencies * cout * windows);
        lane.kernels.callExact("winograd_input_" + m).ptr(x).ptr(v).i(count).i(h).i(w).i(oh).i(ow).i(top).i(left).i(cin)
                .launch2d(windows, cin);
        alpha.put(0, 1f);
        beta.put(0, 0f);
        // Row-major M_f[Cout, P] = U_f[Cout, Cin] V_f[Cin, P], as column-major M_f^T = V_f^T U_f^T.
        CudaDevice.checkBlas(cublasGemmStridedBatchedEx(lane.blas, CUBLAS_OP_N, CUBLAS_OP_N, windows, cout, cin, alpha, CudaDevice.at(v), CUDA_R_32F,
                windows, (long) cin * windows, CudaDevice.at(u), CUDA_R_32F, cin, (long) cout * cin, beta, CudaDevice.at(product),
                CUDA_R_32F, windows, (long) cout * windows, frequencies, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT),
                "cublasGemmStridedBatchedEx");
        free(v);
        lane.kernels.callExact("winograd_output_" + m).ptr(product).ptr(out).ptr(DeviceBuffer.addressOf(bias)).i(count).i(oh).i(ow)
                .i(cout).launch2d(windows, cout);
        free(product);
    }

    /**
     * Single-head attention of {@code queries} [C, P] against keys and values of the map at {@code qkv}
     * (q, k, v of [C, tokens] each): {@code out[C, P] = v softmax(q^T k / sqrt(C))^T}.
     */
    @Override
    protected void attention(Node node, long queries, int p, int c, long qkv, int tokens, long scores, long out) {
        if (p == 0) return;
        long keys = qkv + (long) c * tokens * elementBytes, values = keys + (long) c * tokens * elementBytes;
        gemm(true, false, p, tokens, c, (float) (1.0 / Math.sqrt(c)), queries, p, keys, tokens, 0f, scores, tokens);
        lane.kernels.call("softmax_rows").ptr(scores).i(tokens).launch(p, 256);
        gemm(false, true, c, p, tokens, 1f, values, tokens, scores, tokens, 0f, out, p);
    }

    /**
     * Threads a row of {@code values} needs in the kernels that move 16 bytes a thread (map_row in
     * the .cu file): one per pack where the row divides into packs, else one per value.
     */
    private long packs(long values) {
        int pack = 16 / elementBytes;
        return values % pack == 0 ? values / pack : values;
    }

    /** {@code y = act(x * scale[k] + shift[k])} over {@code rows} planes, k = row % channels (0 scale or shift: none). */
    private void channelAffine(long x, long y, long scale, long shift, int channels, int plane, int rows, Op.@Nullable Activation act) {
        lane.kernels.call("channel_affine").ptr(x).ptr(y).ptr(scale).ptr(shift).i(channels).i(plane).i(rows)
                .i(activationCode(act)).f(slope(act)).launch2d(packs(plane), rows);
    }

    private void copyChannels(long src, int srcC, int srcStart, long dst, int dstC, int dstStart, int count, int n, int plane) {
        lane.kernels.call("copy_channels").ptr(src).ptr(dst).i(srcC).i(srcStart).i(dstC).i(dstStart).i(count).i(plane).i(n * count)
                .launch2d(packs(plane), n * count);
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
        CudaDevice.checkBlas(cublasGemmEx(lane.blas, transB ? CUBLAS_OP_T : CUBLAS_OP_N, transA ? CUBLAS_OP_T : CUBLAS_OP_N, n, m, k, alpha,
                CudaDevice.at(bPtr), type, ldb, CudaDevice.at(aPtr), type, lda, beta, CudaDevice.at(cPtr), type, ldc,
                CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT), "cublasGemmEx");
    }

    // ---------------------------------------------------------------- sparse pass

    @Override
    public Tensor sparse(ActivationCache cache, SparsePlan plan, boolean update, @Nullable Progress progress, Tensor... inputs) {
        Inputs.checkSparse(planner, cache, inputs);
        CudaDevice.bindThread();
        beginPass();
        int outId = graph.output().id();
        try {
            if (plan.isNoChange()) return download(cache.entry(outId, DeviceBuffer.class).address, graph.output().shape());
            long t0 = System.nanoTime();
            uploadInputs(inputs);
            uploadPlanData(plan);
            long t1 = System.nanoTime();
            CudaDevice.check(cudaEventRecord(passStart, first.stream), "cudaEventRecord");
            Object reads = beginSparse(cache);
            StepLanes laned = lanesFor(plan);
            Runnable steps = () -> {
                List<SparsePlan.Step> all = plan.steps();
                if (TIMELINE) mark("start");
                boolean[] started = new boolean[laned.lanes()];
                if (laned.lanes() > 1) CudaDevice.check(cudaEventRecord(fork, first.stream), "cudaEventRecord");
                for (int i = 0; i < all.size(); i++) {
                    long start = profile.enabled() ? System.nanoTime() : 0;
                    enterLane(laned, i, started);
                    execute(all.get(i), cache);
                    if (laned.signals(i)) CudaDevice.check(cudaEventRecord(stepDone.get(i), lane.stream), "cudaEventRecord");
                    lane = first;
                    if (TIMELINE) mark(StepProfile.stepName(all.get(i)));
                    if (profile.enabled()) {
                        sync();
                        profile.add(StepProfile.key(all.get(i)), System.nanoTime() - start);
                    }
                    if (progress != null) progress.step(i + 1, all.size());
                }
                joinLanes(started);
                long out = planner.changed(graph.output()) ? full[outId] : cached(outId, cache).address;
                copy(out, output.address, output.bytes());
                if (!update) freeTransients();
            };
            if (update || profile.enabled()) {
                sparseGraph.forget();
                steps.run();
            } else {
                sparseGraph.run(new SparseKey(plan, reads, planDataGeneration, generations()), steps);
            }
            Tensor result = finishPass("sparse", t0, t1);
            if (update) writeBack(cache);
            return result;
        } finally {
            endPass();
        }
    }

    /** How many streams a sparse pass spreads over by default (-Dtessera.cuda.lanes=N; 1 for one stream, to compare). */
    static final int LANES = Integer.getInteger("tessera.cuda.lanes", 4);

    /**
     * How the steps of {@code plan} spread over lanes, with the lanes and events that takes made
     * (outside any capture); one lane while profiling or timing steps (their events assume one stream).
     */
    private StepLanes lanesFor(SparsePlan plan) {
        if (profile.enabled() || TIMELINE) return StepLanes.serial(plan);
        StepLanes laned = stepLanes;
        if (plan == lanedPlan && laned != null) return laned;
        laned = stepLanes = StepLanes.of(plan, maxLanes);
        lanedPlan = plan;
        while (lanes.size() < laned.lanes()) addLane();
        for (int i = 0; i < plan.steps().size(); i++) {
            if (i == stepDone.size()) stepDone.add(null);
            if (laned.signals(i) && stepDone.get(i) == null) {
                CUevent_st e = new CUevent_st();
                CudaDevice.check(cudaEventCreateWithFlags(e, cudaEventDisableTiming), "cudaEventCreateWithFlags");
                stepDone.set(i, e);
            }
        }
        return laned;
    }

    /** Makes step {@code i}'s lane the current one: started at the fork if it is its first step of the pass, after the steps it waits for. */
    private void enterLane(StepLanes laned, int i, boolean[] started) {
        int k = laned.lane(i);
        Lane l = lanes.get(k);
        if (k > 0 && !started[k]) CudaDevice.check(cudaStreamWaitEvent(l.stream, fork, 0), "cudaStreamWaitEvent");
        started[k] = true;
        for (int d : laned.waits(i)) CudaDevice.check(cudaStreamWaitEvent(l.stream, stepDone.get(d), 0), "cudaStreamWaitEvent");
        lane = l;
    }

    /** Makes the first lane wait for the others a pass started (so a capture ends with every lane joined). */
    private void joinLanes(boolean[] started) {
        for (int k = 1; k < started.length; k++) {
            if (!started[k]) continue;
            Lane l = lanes.get(k);
            CudaDevice.check(cudaEventRecord(l.joined, l.stream), "cudaEventRecord");
            CudaDevice.check(cudaStreamWaitEvent(first.stream, l.joined, 0), "cudaStreamWaitEvent");
        }
    }

    /**
     * Ends a pass whose work is enqueued (inputs uploaded by {@code t0}..{@code t1}): records its stop
     * event, downloads the output (waiting for the GPU) and prints the diagnostics that are on.
     */
    private Tensor finishPass(String pass, long t0, long t1) {
        CudaDevice.check(cudaEventRecord(passStop, first.stream), "cudaEventRecord");
        long t2 = System.nanoTime();
        Tensor result = download(output.address, graph.output().shape());
        long t3 = System.nanoTime();
        printTimeline(pass);
        printPassTimes(pass, t0, t1, t2, t3);
        return result;
    }

    /**
     * Where a pass's wall time goes (-Dtessera.cuda.passTimes=true, on stderr): input upload, host
     * enqueue, GPU time between events around the pass, and the download (which waits for the GPU).
     * The GPU time is what compares with a reference whose inputs already live on the device.
     * Profiled passes (each step synchronized on its own) print nothing, as in the Vulkan backend.
     */
    private static final boolean PASS_TIMES = Boolean.getBoolean("tessera.cuda.passTimes");

    private void printPassTimes(String pass, long t0, long t1, long t2, long t3) {
        if (!PASS_TIMES || profile.enabled()) return;
        float[] ms = {0};
        CudaDevice.check(cudaEventElapsedTime(ms, passStart, passStop), "cudaEventElapsedTime");
        System.err.printf("pass %s: upload %.3f ms, enqueue %.3f ms, gpu %.3f ms, download %.3f ms%n", pass, (t1 - t0) / 1e6,
                (t2 - t1) / 1e6, ms[0], (t3 - t2) / 1e6);
    }

    /**
     * GPU time per node or step (-Dtessera.cuda.timeline=true, on stderr after each pass): an event
     * after each one, recorded as event nodes when the pass is captured, so replayed graphs are
     * measured too. This is how the cost of memory nodes in captured graphs was found.
     */
    private static final boolean TIMELINE = Boolean.getBoolean("tessera.cuda.timeline");
    private final List<CUevent_st> marks = new ArrayList<>();
    private final List<String> markNames = new ArrayList<>();
    private int markCount;

    private void mark(String name) {
        if (name.equals("start")) markCount = 0;
        if (markCount == marks.size()) {
            CUevent_st e = new CUevent_st();
            CudaDevice.check(cudaEventCreate(e), "cudaEventCreate");
            marks.add(e);
            markNames.add(name);
        }
        markNames.set(markCount, name);
        int[] capturing = {0};
        CudaDevice.check(cudaStreamIsCapturing(first.stream, capturing), "cudaStreamIsCapturing");
        int flags = capturing[0] == cudaStreamCaptureStatusActive ? cudaEventRecordExternal : cudaEventRecordDefault;
        CudaDevice.check(cudaEventRecordWithFlags(marks.get(markCount++), first.stream, flags), "cudaEventRecordWithFlags");
    }

    private void printTimeline(String pass) {
        if (!TIMELINE || markCount < 2) return;
        sync();
        Map<String, float[]> byName = new HashMap<>(); // name -> {ms, count}
        float total = 0;
        float[] ms = {0};
        for (int i = 1; i < markCount; i++) {
            CudaDevice.check(cudaEventElapsedTime(ms, marks.get(i - 1), marks.get(i)), "cudaEventElapsedTime");
            total += ms[0];
            float[] entry = byName.computeIfAbsent(markNames.get(i), k -> new float[2]);
            entry[0] += ms[0];
            entry[1]++;
        }
        System.err.printf("timeline %s: %.3f ms of GPU time over %d nodes or steps%n", pass, total, markCount - 1);
        byName.entrySet().stream().sorted((a, b) -> Float.compare(b.getValue()[0], a.getValue()[0]))
                .forEach(e -> System.err.printf("  %8.4f ms %4d  %s%n", e.getValue()[0], (int) e.getValue()[1], e.getKey()));
    }

    /** CUDA graphs can be turned off (-Dtessera.cuda.graphs=false), e.g. to compare with eager launches. */
    private static final boolean GRAPHS = !"false".equals(System.getProperty("tessera.cuda.graphs"));

    /**
     * What a sparse pass's captured graph depends on besides the executor's own buffers: the plan,
     * the cache it reads (or this executor, while passes read copies of several caches' entries:
     * {@code beginSparse}), the plan data's and the lanes' memory.
     */
    private record SparseKey(SparsePlan plan, Object reads, int planDataGeneration, List<Integer> laneGenerations) {}

    /**
     * One pass kind's CUDA graph: a pass whose key equals the previous pass's key is captured (the
     * previous, eager run has sized every workspace and left the working maps as the repeat
     * expects), later repeats replay it. Any other key runs eagerly. If capture fails (a library
     * that cannot be captured), passes of this executor stay eager.
     */
    private final class PassGraph {
        private @Nullable Object lastKey;
        private @Nullable CUgraphExec_st exec;
        private boolean unsupported = !GRAPHS;

        void run(Object key, Runnable pass) {
            boolean repeat = key.equals(lastKey);
            lastKey = key;
            if (!repeat || unsupported) {
                destroy();
                pass.run();
            } else if (exec != null) {
                CudaDevice.check(cudaGraphLaunch(exec, first.stream), "cudaGraphLaunch");
            } else {
                capture(pass);
            }
        }

        private void capture(Runnable pass) {
            CudaDevice.check(cudaStreamBeginCapture(first.stream, cudaStreamCaptureModeThreadLocal), "cudaStreamBeginCapture");
            CUgraph_st g = new CUgraph_st();
            try {
                pass.run();
            } catch (RuntimeException e) {
                cudaStreamEndCapture(first.stream, g);
                if (!g.isNull()) cudaGraphDestroy(g);
                cudaGetLastError();
                unsupported = true;
                lastKey = null;
                for (Lane l : lanes) { // their frees were part of the abandoned capture
                    for (long t : l.transients) l.arena.abandon(t);
                    l.transients.clear();
                }
                lane = first;
                pass.run();
                return;
            }
            CudaDevice.check(cudaStreamEndCapture(first.stream, g), "cudaStreamEndCapture");
            CUgraphExec_st e = new CUgraphExec_st();
            CudaDevice.check(cudaGraphInstantiate(e, g, cudaGraphInstantiateFlagUseNodePriority), "cudaGraphInstantiate");
            cudaGraphDestroy(g);
            exec = e;
            CudaDevice.check(cudaGraphLaunch(exec, first.stream), "cudaGraphLaunch");
        }

        void forget() {
            lastKey = null;
            destroy();
        }

        void destroy() {
            if (exec != null) cudaGraphExecDestroy(exec);
            exec = null;
        }
    }

    /** Puts what the pass reads besides maps (tile corners, gather index maps) on the device, when it changed since the last pass. */
    private void uploadPlanData(SparsePlan plan) {
        int[] data = layOutPlanData(plan);
        if (data == null) return;
        if (staging.capacity() < data.length) {
            staging.close();
            staging = new IntPointer(Math.max(data.length, 2 * staging.capacity()));
            planBuffer.close();
            planBuffer = DeviceBuffer.allocate(4 * staging.capacity());
        }
        planDataGeneration++; // graphs captured before read other addresses
        planData = planBuffer.address;
        staging.put(data);
        CudaDevice.check(cudaMemcpyAsync(CudaDevice.at(planBuffer.address), staging, 4L * data.length, cudaMemcpyHostToDevice, first.stream),
                "cudaMemcpyAsync (plan data)");
    }

    @Override
    protected void gather(GatherSource a, @Nullable GatherSource b, boolean modulates, long vector, int positions, int channels,
            long scale, long shift, Op.@Nullable Activation act, long out) {
        String kernel = modulates ? "gather_spade" : b == null && vector == 0 ? "gather" : "gather_add";
        lane.kernels.call(kernel).ptr(a.index()).ptr(a.tiles()).i(a.tilePositions()).ptr(a.map()).l(a.plane());
        if (b == null) lane.kernels.ptr(0).ptr(0).i(0).ptr(0).l(0);
        else lane.kernels.ptr(b.index()).ptr(b.tiles()).i(b.tilePositions()).ptr(b.map()).l(b.plane());
        // channels a thread: as many as keep about four blocks a multiprocessor (at most GATHER_CHANNELS)
        long blocksX = (positions + 255) / 256;
        int per = (int) Math.max(1, Math.min(GATHER_CHANNELS, blocksX * channels / (4L * model.device.multiprocessors)));
        lane.kernels.ptr(vector).i(positions).ptr(out).i(channels).ptr(scale).ptr(shift).i(activationCode(act)).f(slope(act)).i(per)
                .launch2d(positions, (channels + per - 1) / per);
    }

    @Override
    protected long param(Node node, int index) {
        return model.params(node)[index].address;
    }

    @Override
    protected void scatterTiles(long tiles, long map, TileGeometry g, int channels) {
        tileKernel("scatter", tiles, map, g, channels);
    }

    @Override
    protected void restoreTiles(long src, long dst, TileGeometry g, int channels) {
        tileKernel("restore", src, dst, g, channels);
    }

    @Override
    protected void zeroPadding(long tiles, TileGeometry g, int channels) {
        tileKernel("zero_padding", tiles, 0, g, channels);
    }

    /** Tile kernels that share the (tiles, origins, count, h, w, th, tw, channels) signature: scatter, restore, zero_padding. */
    private void tileKernel(String name, long a, long b, TileGeometry g, int channels) {
        lane.kernels.call(name).ptr(a);
        if (b != 0) lane.kernels.ptr(b);
        lane.kernels.ptr(originsAt(g)).i(g.count()).i(g.height()).i(g.width()).i(g.tileHeight()).i(g.tileWidth()).i(channels)
                .launch2d(g.positions(), channels);
    }

    @Override
    protected void affine(long x, long y, long affine, int channels, long plane, Op.@Nullable Activation act) {
        channelAffine(x, y, affine, affine + 4L * channels, channels, (int) plane, channels, act);
    }

    @Override
    protected void pointwise(Node n, long[] args, Shape[] shapes, long out, int channels, int positions, Op.@Nullable Activation act) {
        pointwise(n, args, shapes, out, 1, channels, positions, act);
    }

    @Override
    protected DeviceBuffer allocateMap(long bytes) {
        return DeviceBuffer.allocate(bytes);
    }

    @Override
    protected void writeBack(ActivationCache cache) {
        super.writeBack(cache);
        sync();
    }

    // ---------------------------------------------------------------- memory

    @Override
    protected long alloc(long elements) {
        return allocBytes(elements * elementBytes);
    }

    private long alloc32(long floats) {
        return allocBytes(floats * Float.BYTES);
    }

    private long allocBytes(long bytes) {
        long address = lane.arena.allocate(bytes);
        lane.transients.add(address);
        return address;
    }

    /**
     * Frees a transient buffer before the pass ends (stream-ordered: after the kernels that read
     * it). One taken on another lane stays taken until the pass ends: work there may still read it.
     */
    @Override
    protected void free(long address) {
        if (lane.transients.remove(address)) lane.arena.free(address, lane.stream);
    }

    /** Frees every lane's transient buffers, in the first lane's order (which follows the others once they have joined it). */
    private void freeTransients() {
        for (Lane l : lanes) {
            for (long t : l.transients) l.arena.free(t, first.stream);
            l.transients.clear();
        }
    }

    private void beginPass() {
        for (Lane l : lanes) l.arena.beginPass();
    }

    /** Ends a pass, normal or failed: waits for every lane, frees what is left, forgets its values. */
    private void endPass() {
        lane = first;
        for (Lane l : lanes) l.sync();
        freeTransients();
        endPassForms();
        sync();
    }

    /** What captured graphs depend on in the lanes: their cuDNN workspaces and transient memory. */
    private List<Integer> generations() {
        List<Integer> all = new ArrayList<>();
        for (Lane l : lanes) l.addGenerations(all);
        return all;
    }

    /**
     * A new lane. The first runs at the device's highest stream priority: StepLanes puts a sparse
     * pass's critical path there, so its kernels go first where other lanes' kernels wait too
     * (captured graphs keep each kernel's priority: they are instantiated to use it).
     */
    private Lane addLane() {
        int[] least = {0}, greatest = {0};
        CudaDevice.check(cudaDeviceGetStreamPriorityRange(least, greatest), "cudaDeviceGetStreamPriorityRange");
        Lane l = new Lane(model.device, half, half ? IMPLICIT_MAX_BLOCKS : 0, lanes.isEmpty() ? greatest[0] : least[0], model.cudnnPlans);
        lanes.add(l);
        return l;
    }

    @Override
    protected void copy(long src, long dst, long bytes) {
        CudaDevice.check(cudaMemcpyAsync(CudaDevice.at(dst), CudaDevice.at(src), bytes, cudaMemcpyDeviceToDevice, lane.stream),
                "cudaMemcpyAsync (device to device)");
    }

    /**
     * Copies the inputs into their fixed device buffers through page-locked memory (converting to
     * float16 in half mode). The caller's tensors are read before this returns.
     */
    private void uploadInputs(Tensor[] inputs) {
        long total = 0;
        for (Tensor t : inputs) total += t.size();
        first.sync(); // a pass that failed may have left a copy from the staging memory in flight
        long pinned = pinnedStaging.reserve(total).address();
        FloatBuffer host = pinnedStaging.floats(Math.toIntExact(total));
        long at = 0;
        for (int i = 0; i < inputs.length; i++) {
            Tensor t = inputs[i];
            long dst = inputBuffers[i].address;
            long f32 = half ? alloc32(t.size()) : dst;
            PinnedStaging.copy(t.data().duplicate(), host.position((int) at));
            CudaDevice.check(cudaMemcpyAsync(CudaDevice.at(f32), CudaDevice.at(pinned + 4L * at), 4L * t.size(), cudaMemcpyHostToDevice,
                    first.stream), "cudaMemcpyAsync (upload)");
            at += t.size();
            if (half) {
                lane.kernels.callExact("to_half").ptr(f32).ptr(dst).l(t.size()).launch(t.size());
                free(f32);
            }
            full[graph.inputs().get(i).id()] = dst;
        }
    }

    /** The map at {@code address} as a float32 host tensor (waits for the first lane). */
    private Tensor download(long address, Shape shape) {
        long src = address;
        if (half) {
            src = alloc32(shape.size());
            lane.kernels.callExact("to_float").ptr(address).ptr(src).l(shape.size()).launch(shape.size());
        }
        Tensor t = Tensor.zeros(shape);
        long pinned = pinnedStaging.reserve(shape.size()).address();
        CudaDevice.check(cudaMemcpyAsync(CudaDevice.at(pinned), CudaDevice.at(src), 4L * shape.size(), cudaMemcpyDeviceToHost, first.stream),
                "cudaMemcpyAsync (download)");
        sync();
        PinnedStaging.copy(pinnedStaging.floats(shape.size()), t.data().duplicate());
        return t;
    }

    private void sync() {
        lane.sync();
    }

    @Override
    public StepProfile profile() {
        return profile;
    }

    @Override
    public void close() {
        CudaDevice.bindThread();
        for (Lane l : lanes) l.sync();
        denseGraph.destroy();
        sparseGraph.destroy();
        for (DeviceBuffer b : inputBuffers) b.close();
        output.close();
        closeWorkingMaps();
        planBuffer.close();
        staging.close();
        pinnedStaging.close();
        alpha.close();
        beta.close();
        for (CUevent_st e : marks) cudaEventDestroy(e);
        for (CUevent_st e : stepDone) if (e != null) cudaEventDestroy(e);
        cudaEventDestroy(fork);
        cudaEventDestroy(passStart);
        cudaEventDestroy(passStop);
        cudaEventDestroy(start);
        cudaEventDestroy(stop);
        for (Lane l : lanes) l.close();
    }
}
