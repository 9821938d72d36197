package dev.tessera.vulkan;

import dev.tessera.runtime.backend.DeviceExecutor;
import dev.tessera.runtime.backend.Inputs;
import dev.tessera.runtime.backend.StepProfile;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.TileGeometry;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import dev.tessera.spi.DeviceInfo;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * Runs one graph on a Vulkan device: dense and full passes node by node, sparse passes step by step
 * as the {@link SparsePlan} says (the steps themselves are {@link DeviceExecutor}'s, shared with the
 * CUDA backend). A pass is described into the executor's {@link CommandStream} and submitted once,
 * when its output is downloaded; a pass that repeats (the same plan on the same cache, a dense pass
 * on new inputs) replays its recording. Scratch memory lives for one pass. A pass that fails or is
 * cancelled before its submission runs nothing. With profiling on, the device's clock at the end of
 * each node or step gives its time (still one submission). Not thread-safe: one executor per
 * session.
 */
final class VulkanExecutor extends DeviceExecutor<DeviceBuffer> {
    private final VulkanModel model;
    /** Where kernels are described: the pass's stream, or {@link #timing} while a conv's ways are timed. */
    private CommandStream stream;
    private Dispatch kernels;
    private final CommandStream passStream;
    private final Dispatch passKernels;
    /** Where conv ways are timed, closed at the end of the pass (so its scratch memory does not stay). */
    private @Nullable CommandStream timing;
    private @Nullable Dispatch timingKernels;
    /** Whether convs choose their way by timing the candidates (else they take the default way). */
    private final boolean timeConvWays;
    /**
     * The block shape of every conv's product, or null (-Dtessera.vulkan.convShape=NAME, for tests:
     * direct; with -Dtessera.vulkan.convWinograd=true or 2 (4), Winograd F(2x2, 3x3) (F(4x4, 3x3))
     * where the conv allows it).
     */
    private final Kernel.@Nullable GemmShape convShape;
    private final int convWinograd;
    /** Whether convolutions of float16 maps run on tensor cores (conv2d_coop). */
    private final boolean tensorCores;
    /** Whether Winograd's products of float16 maps may run on gemm_tensor (-Dtessera.vulkan.tensorAddressing=false: never). */
    private final boolean tensorAddressing;
    private final StepProfile profile = new StepProfile();

    // Kept between sparse passes.
    private @Nullable DeviceBuffer planBuffer;
    private IntBuffer planHost = IntBuffer.allocate(0);

    // State of one pass.
    private boolean submitted;
    /** What ran before each of the pass's marks (profiles only). */
    private final List<String> marked = new ArrayList<>();

    VulkanExecutor(VulkanModel model, SparsePlanner planner) {
        super(planner, model.half, DeviceBuffer.class);
        this.model = model;
        this.passStream = model.device.newStream();
        this.passKernels = new Dispatch(passStream, half);
        this.stream = passStream;
        this.kernels = passKernels;
        this.tensorCores = half && model.device.tensorCores() && !Boolean.getBoolean("tessera.vulkan.noTensorCores");
        this.tensorAddressing = tensorCores && model.device.tensorAddressing()
                && !"false".equals(System.getProperty("tessera.vulkan.tensorAddressing"));
        String time = System.getProperty("tessera.vulkan.timeConvs", "gpu");
        this.timeConvWays = time.equals("true") || time.equals("gpu") && model.device.kind() != DeviceInfo.Kind.SOFTWARE_GPU;
        String shape = System.getProperty("tessera.vulkan.convShape");
        this.convShape = shape == null ? null : Kernel.GemmShape.valueOf(shape);
        String winograd = System.getProperty("tessera.vulkan.convWinograd", "0");
        this.convWinograd = winograd.equals("true") ? 2 : Integer.parseInt(winograd);
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
        try {
            for (int i = 0; i < inputs.length; i++) {
                Value in = graph.inputs().get(i);
                full[in.id()] = upload(inputs[i]);
                if (cache != null && cached[in.id()]) cache.put(in.id(), inputs[i]); // host copy: edits are checked against it
            }
            markUploaded();
            runNodes(cache, progress);
            Tensor result = download(full[graph.output().id()], graph.output().shape());
            submit(cache == null ? "dense" : "full");
            return result;
        } finally {
            endPass();
        }
    }

    @Override
    protected void nodeDone(Node node, long start) {
        markStep(StepProfile.key(node));
    }

    @Override
    protected void free(long address) {
        stream.release(address);
    }

    /** One node on full maps: {@code in} are its inputs' addresses, {@code out} its output's. */
    @Override
    protected void runNode(Node node, long[] in, long out, Op.@Nullable Activation act) {
        Op op = node.op();
        Shape y = node.output().shape();
        Shape x = node.inputs().get(0).shape();
        long[] p = model.params(node);
        if (op instanceof Op.Conv2d c) {
            Op.Padding pad = c.padding();
            conv(node, in[0], Layout.packed(x.n(), x.c(), x.h(), x.w()), out, Layout.packed(y.n(), y.c(), y.h(), y.w()), pad.top(),
                    pad.left(), act);
        } else if (op instanceof Op.GroupNorm g) {
            long plane = (long) y.h() * y.w();
            long affine = alloc32(2L * y.n() * y.c());
            long shift = affine + 4L * y.n() * y.c();
            int groups = y.n() * g.groups();
            long groupSize = y.c() / g.groups() * plane;
            int parts = (int) Math.min(256, (groupSize + NORM_PART - 1) / NORM_PART);
            long partStats = parts > 1 ? alloc32(3L * groups * parts) : 0;
            if (parts > 1) {
                kernels.call(Kernel.GROUP_NORM_PARTS).buffer(in[0]).buffer(partStats).u(y.c()).u(g.groups()).u(plane).u(parts)
                        .launchGroups(groups * parts, 1);
            }
            kernels.call(Kernel.GROUP_NORM_STATS).buffer(in[0]).buffer(p[0]).buffer(p[1]).buffer(affine).buffer(shift).buffer(partStats)
                    .u(y.c()).u(g.groups()).u(plane).f(g.eps()).u(parts).launchGroups(groups, 1);
            if (parts > 1) free(partStats);
            channelAffine(in[0], out, affine, shift, y.n() * y.c(), plane, y.size(), act);
            lastNormAffine = affine;
        } else if (op instanceof Op.ResizeNearest) {
            kernels.call(Kernel.RESIZE_NEAREST).buffer(in[0]).buffer(out).buffer(model.nearestIndex(x.h(), y.h()))
                    .buffer(model.nearestIndex(x.w(), y.w())).u(x.h()).u(x.w()).u(y.h()).u(y.w()).u(y.size()).launch(y.size());
        } else if (op instanceof Op.SelfAttention) {
            int c = y.c();
            int tokens = y.h() * y.w();
            long scores = alloc((long) tokens * tokens);
            for (int n = 0; n < y.n(); n++) {
                long q = in[0] + (long) n * 3 * c * tokens * elementBytes;
                attention(node, q, tokens, c, q, tokens, scores, out + (long) n * c * tokens * elementBytes);
            }
        } else if (op instanceof Op.Linear) { // out[rows, features] = x W^T + bias: weights W over rows as images of inF channels
            int rows = x.dim(0), features = y.dim(1), inF = x.dim(1);
            implicitGemm(Window.POINT, p[0], inF, 1, p[1], in[0], new Layout(rows, inF, 1, 1, inF, 1), out,
                    new Layout(rows, features, 1, 1, features, 1), null);
        } else if (op instanceof Op.TimestepEmbedding t) {
            kernels.call(Kernel.TIMESTEP_EMBEDDING).buffer(in[0]).buffer(p[0]).buffer(out).u(x.dim(0)).u(t.dim())
                    .launch((long) x.dim(0) * t.dim());
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
        long[] p = model.params(node);
        long total = (long) n * c * plane;
        if (op instanceof Op.BatchNorm) {
            channelAffine(in[0], out, p[0], p[1], c, plane, total, act);
        } else if (op instanceof Op.Spade) {
            kernels.call(Kernel.SPADE).buffer(in[0]).buffer(in[1]).buffer(out).buffer(p[0]).buffer(p[1]).u(c).u(plane).u(total)
                    .u(activationCode(act)).f(slope(act)).launch(total);
        } else if (op instanceof Op.Activation a) {
            channelAffine(in[0], out, 0, 0, 1, 1, total, a);
        } else if (op instanceof Op.Add) {
            boolean perChannel = shapes[1].rank() == 2;
            kernels.call(Kernel.ADD).buffer(in[0]).buffer(in[1]).buffer(out).u(plane).u(perChannel ? 1 : 0).u(total)
                    .u(activationCode(act)).f(slope(act)).launch(total);
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
            throw new IllegalStateException("no Vulkan kernel for " + op);
        }
    }

    /**
     * A batch of images in memory: {@code images} of {@code channels} x {@code h} x {@code w}, image i
     * channel c at {@code i * imageStride + c * channelStride} elements. Full maps are packed NCHW;
     * tile batches are channel-major [C, tiles, th, tw].
     */
    private record Layout(int images, int channels, int h, int w, long imageStride, long channelStride) {
        static Layout packed(int n, int c, int h, int w) {
            return new Layout(n, c, h, w, (long) c * h * w, (long) h * w);
        }

        static Layout tiles(int count, int c, int th, int tw) {
            return new Layout(count, c, th, tw, (long) th * tw, (long) count * th * tw);
        }
    }

    /**
     * {@code y = act(conv(x) + bias)} of conv {@code node}, the way the model chose for its shape
     * ({@link #convWay}): Winograd F(2x2, 3x3) or F(4x4, 3x3), or the implicit GEMM of the conv's window, weights
     * [outC][kernelH][kernelW][inC].
     */
    private void conv(Node node, long x, Layout in, long y, Layout out, int padTop, int padLeft, Op.@Nullable Activation act) {
        conv(convWay(node, in, out, padTop, padLeft), node, x, in, y, out, padTop, padLeft, act);
    }

    private void conv(ConvWay way, Node node, long x, Layout in, long y, Layout out, int padTop, int padLeft, Op.@Nullable Activation act) {
        if (way.winograd() > 0) {
            winogradConv(way.winograd(), way.shape(), node, x, in, y, out, padTop, padLeft, act);
            return;
        }
        Op.Conv2d op = (Op.Conv2d) node.op();
        long[] p = model.params(node);
        int k = op.inChannels() * op.kernelH() * op.kernelW();
        gemmSlices(way.shape(), way.slices(), new Window(op.kernelH(), op.kernelW(), op.stride(), padTop, padLeft), p[0], k, 1, p[1], x,
                in, y, out, act);
    }

    /**
     * How a conv runs: as Winograd F(winograd x winograd, 3x3) (2 or 4) or directly (0), the block
     * shape of its product, and the slices K is split into (for Winograd one per frequency: 16 or 36).
     */
    record ConvWay(int winograd, Kernel.GemmShape shape, int slices) {
        static ConvWay winograd(int tile, Kernel.GemmShape shape) {
            return new ConvWay(tile, shape, frequencies(tile));
        }

        /** Frequencies of Winograd F(tile x tile, 3x3): (tile + 2)^2. */
        static int frequencies(int tile) {
            return (tile + 2) * (tile + 2);
        }
    }

    /** What a timed choice of way is made for: a node's conv or product at some size. */
    interface WayKey {
        Node node();
    }

    /** What a conv's choice of way depends on: the conv, whether it runs on tiles, and its output pixels rounded down to a power of 2. */
    record ConvKey(Node node, boolean tiles, long pixels) implements WayKey {}

    /** What an attention product's choice depends on: the node, which product (0 or 1), and its queries rounded down to a power of 2. */
    record ProductKey(Node node, int product, long queries) implements WayKey {}

    /**
     * The way conv {@code node} runs on {@code out}: the model's choice for its key, or, the first
     * time, the fastest of the candidates ({@link #convWays}) on this device, each timed on scratch
     * maps of the same shapes (without timing: {@link #defaultWay}).
     */
    private ConvWay convWay(Node node, Layout in, Layout out, int padTop, int padLeft) {
        Op.Conv2d c = (Op.Conv2d) node.op();
        if (convShape != null) {
            if (convWinograd > 0 && winograd(c, out, 1, convShape, convWinograd)) return ConvWay.winograd(convWinograd, convShape);
            return direct(convShape, out.channels(), pixels(out), c.inChannels() * c.kernelH() * c.kernelW(), BUSY_WORKGROUPS);
        }
        if (!timeConvWays) return defaultWay(c, out);
        boolean tiles = in.channelStride() != (long) in.h() * in.w(); // a tile batch's channel spans all its tiles
        return model.convWay(new ConvKey(node, tiles, Long.highestOneBit(pixels(out))), () -> {
            List<ConvWay> ways = convWays(c, tiles, out);
            return ways.size() == 1 ? ways.get(0) : fastest(node.name() + " " + out, ways, new long[] {extent(in), extent(out)},
                    (way, scratch) -> conv(way, node, scratch[0], in, scratch[1], out, padTop, padLeft, null));
        });
    }

    /** A conv's way untimed: Winograd for float32 maps with at least {@link #MIN_WINDOWS} windows, else the default direct way. */
    private ConvWay defaultWay(Op.Conv2d c, Layout out) {
        long rows = c.outChannels(), pixels = pixels(out);
        Kernel.GemmShape winogradShape = Kernel.GemmShape.forProduct(rows, pixels / 4);
        if (!half && winograd(c, out, MIN_WINDOWS, winogradShape, 2)) return ConvWay.winograd(2, winogradShape);
        return defaultDirect(rows, pixels, c.inChannels() * c.kernelH() * c.kernelW());
    }

    private static long pixels(Layout out) {
        return (long) out.images() * out.h() * out.w();
    }

    /**
     * The candidate ways of a conv, the default first ({@link #defaultWay}). Then the direct ways
     * ({@link #directWays}) and, for more than 32 output channels where Winograd may run (on tiles
     * down to {@link #MIN_TIMED_WINDOWS} windows), Winograd with its product in each block shape
     * (on tensor cores: theirs, conv2d_coop's and, where the device has it, gemm_tensor's, there
     * also as F(4x4, 3x3) on full maps: {@link #WINOGRAD4}).
     */
    private List<ConvWay> convWays(Op.Conv2d c, boolean tiles, Layout out) {
        long rows = c.outChannels(), pixels = pixels(out);
        Set<ConvWay> ways = new LinkedHashSet<>(List.of(defaultWay(c, out)));
        List<ConvWay> direct = directWays(rows, pixels, c.inChannels() * c.kernelH() * c.kernelW());
        ways.addAll(direct);
        if (rows <= 32) return List.copyOf(ways);
        long minWindows = tiles ? MIN_TIMED_WINDOWS : MIN_WINDOWS;
        Kernel.GemmShape[] shapes = !direct.get(0).shape().cooperative() ? TIMED_SHAPES : tensorAddressing ? TENSOR_SHAPES
                : new Kernel.GemmShape[] {Kernel.GemmShape.COOP};
        for (Kernel.GemmShape s : shapes) {
            if (winograd(c, out, minWindows, s, 2)) ways.add(ConvWay.winograd(2, s));
            if (WINOGRAD4 && !tiles && s.kernel() == Kernel.GEMM_TENSOR && winograd(c, out, minWindows, s, 4)) {
                ways.add(ConvWay.winograd(4, s));
            }
        }
        return List.copyOf(ways);
    }

    /**
     * The direct ways of an [rows, pixels] product over K = k, the default first ({@link #defaultDirect}).
     * Then, for at most 16 rows, 16-row blocks; for more than 32 rows: on tensor cores, splits for
     * 128 and 512 workgroups (the shader cores' shapes were never faster in float16 on the H100);
     * on the shader cores, each other block shape split for 64, 128 or 256 workgroups.
     */
    private List<ConvWay> directWays(long rows, long pixels, int k) {
        ConvWay first = defaultDirect(rows, pixels, k);
        Set<ConvWay> ways = new LinkedHashSet<>(List.of(first));
        if (rows <= 16) for (long busy : new long[] {128, 256}) ways.add(direct(Kernel.GemmShape.ROWS_16, rows, pixels, k, busy));
        if (rows <= 32) return List.copyOf(ways);
        if (first.shape().cooperative()) {
            for (long busy : new long[] {128, 512}) ways.add(direct(first.shape(), rows, pixels, k, busy));
            return List.copyOf(ways);
        }
        for (Kernel.GemmShape s : TIMED_SHAPES) for (long busy : new long[] {64, 128, 256}) ways.add(direct(s, rows, pixels, k, busy));
        return List.copyOf(ways);
    }

    /**
     * A product's way without timing: on tensor cores for float16 maps where the device has them,
     * else {@link Kernel.GemmShape#forProduct}; split along K where its blocks alone would leave
     * the GPU idle. Tensor cores compute 128 rows a block: a product of at most 32 (an RGB output
     * conv) wastes less on the shader cores' 32-row blocks.
     */
    private ConvWay defaultDirect(long rows, long pixels, int k) {
        boolean coop = tensorCores && rows > 32;
        Kernel.GemmShape shape = coop ? Kernel.GemmShape.COOP : Kernel.GemmShape.forProduct(rows, pixels);
        return direct(shape, rows, pixels, k, coop ? BUSY_WORKGROUPS_COOP : BUSY_WORKGROUPS);
    }

    /** The direct way in {@code shape} blocks, K split for about {@code busy} workgroups. */
    private static ConvWay direct(Kernel.GemmShape shape, long rows, long pixels, int k, long busy) {
        return new ConvWay(0, shape, slices(shape, rows, pixels, k, busy));
    }

    private static final Kernel.GemmShape[] TIMED_SHAPES = {
        Kernel.GemmShape.ROWS_64, Kernel.GemmShape.ROWS_128, Kernel.GemmShape.COLUMNS_32,
        Kernel.GemmShape.SQUARE_64};
    private static final Kernel.GemmShape[] TENSOR_SHAPES = {
        Kernel.GemmShape.COOP, Kernel.GemmShape.TENSOR_128, Kernel.GemmShape.TENSOR_64};

    /** Runs a way on scratch memory of the timing stream. */
    private interface TimedRun {
        void run(ConvWay way, long[] scratch);
    }

    /**
     * The fastest of {@code ways} for {@code what}: each run three times by {@code run} on a stream
     * of the executor's own, on scratch buffers of {@code scratchElements} (so no map of the pass is
     * touched), best time.
     */
    private ConvWay fastest(String what, List<ConvWay> ways, long[] scratchElements, TimedRun run) {
        int rounds = 3;
        if (timing == null) {
            timing = model.device.newStream();
            timingKernels = new Dispatch(timing, half);
        }
        stream = timing;
        kernels = timingKernels;
        try {
            long[] scratch = new long[scratchElements.length];
            for (int i = 0; i < scratch.length; i++) scratch[i] = alloc(scratchElements[i]);
            for (ConvWay way : ways) {
                for (int r = 0; r < rounds; r++) {
                    stream.mark();
                    run.run(way, scratch);
                }
            }
            stream.mark();
            stream.submit();
            long[] marks = stream.marks();
            if (marks.length == 0) return ways.get(0); // the device keeps no time
            long[] best = new long[ways.size()];
            Arrays.fill(best, Long.MAX_VALUE);
            for (int i = 0; i < ways.size() * rounds; i++) best[i / rounds] = Math.min(best[i / rounds], marks[i + 1] - marks[i]);
            int fastest = 0;
            for (int w = 1; w < best.length; w++) if (best[w] < best[fastest]) fastest = w;
            if (CONV_WAYS) System.err.printf("conv %s: %s of %s, %s ns%n", what, ways.get(fastest), ways, Arrays.toString(best));
            return ways.get(fastest);
        } finally {
            timing.discard();
            stream = passStream;
            kernels = passKernels;
        }
    }

    /** Prints each conv's timed choice (-Dtessera.vulkan.convWays=true, on stderr). */
    private static final boolean CONV_WAYS = Boolean.getBoolean("tessera.vulkan.convWays");

    /** Elements a batch of images in {@code layout} spans. */
    private static long extent(Layout l) {
        return (l.images() - 1) * l.imageStride() + (l.channels() - 1) * l.channelStride() + (long) l.h() * l.w();
    }

    /**
     * F(4x4, 3x3) as a candidate for float16 convs of full maps on gemm_tensor
     * (-Dtessera.vulkan.winograd4=false: never): per 4x4 block of outputs and input channel it
     * multiplies 36 values, F(2x2) 64, the direct conv 144. Its transforms lose more precision (8e-3
     * of max |reference| on one float16 conv, F(2x2) 6e-4), so it runs only where timing picks it. Not
     * on tiles: timed there on the H100 it won some tile convs but no sparse pass got faster (within
     * 2%), and a new edit's first pass took 0.8-1.3 s instead of 0.1-0.2 s, making and timing it.
     */
    private static final boolean WINOGRAD4 = !"false".equals(System.getProperty("tessera.vulkan.winograd4"));
    /** Winograd convs on or off (-Dtessera.vulkan.winograd=false), to compare. */
    private static final boolean WINOGRAD = !"false".equals(System.getProperty("tessera.vulkan.winograd"));
    /**
     * Fewest 2x2 windows of a conv that runs as Winograd by default: its products' columns fill at
     * least one block of conv2d's 128 (thresholds of 16, 32 and 48 were slower on the H100 before
     * convs were timed). Timed tile convs try Winograd from {@link #MIN_TIMED_WINDOWS}: on the H100
     * GauGAN's sparse passes gained 9% at 1.2%; on full maps DDPM gained nothing, and its first pass
     * took 7.3 s instead of 3.0 (making and timing the weights of every small map's conv).
     */
    private static final long MIN_WINDOWS = 128, MIN_TIMED_WINDOWS = 16;

    /**
     * Whether {@code c} may run as Winograd F(tile x tile, 3x3) with its product in {@code shape}
     * blocks: 3x3 stride 1, input channels a multiple of the shape's TILE_K (each frequency's K is
     * one slice of the product; gemm_tensor's clamped loads take any), outputs of whole tile x tile
     * windows and at least {@code minWindows} of them (fewer leave most of each product's block
     * columns empty), and its transformed input and products fit in one binding each
     * ({@link ComputeDevice#maxBufferBytes}; else the direct conv runs). float16 maps run it only
     * where timed: by default they run on tensor cores where the device has them, as on CUDA.
     */
    private boolean winograd(Op.Conv2d c, Layout out, long minWindows, Kernel.GemmShape shape, int tile) {
        if (!WINOGRAD || c.kernelH() != 3 || c.kernelW() != 3 || c.stride() != 1 || out.h() % tile != 0 || out.w() % tile != 0
                || shape.kernel() != Kernel.GEMM_TENSOR && c.inChannels() % shape.tileK() != 0) {
            return false;
        }
        long windows = pixels(out) / (tile * tile), frequencies = ConvWay.frequencies(tile);
        long sumBytes = shape.kernel() == Kernel.GEMM_TENSOR ? elementBytes : Float.BYTES; // as winogradConv stores them
        long max = model.device.maxBufferBytes();
        return windows >= minWindows && frequencies * c.inChannels() * windows * elementBytes <= max
                && frequencies * c.outChannels() * windows * sumBytes <= max;
    }

    /**
     * A 3x3 stride-1 conv as Winograd F(tile x tile, 3x3) (tile 2: 2.25x fewer multiply-adds than
     * the direct one, tile 4: 4x): the input transform into A^2 frequencies (A = tile + 2) of
     * [inC][windows]; their products with the transformed weights as one product over K = A^2 inC
     * split into A^2 slices of inC, so that slice f's partial sums are frequency f's product
     * [outC][windows] (gemm_tensor: A^2 products of one launch, stored at the maps' precision); the
     * inverse transform with bias and activation.
     */
    private void winogradConv(int tile, Kernel.GemmShape shape, Node node, long x, Layout in, long y, Layout out, int padTop, int padLeft,
            Op.@Nullable Activation act) {
        Op.Conv2d op = (Op.Conv2d) node.op();
        int cin = op.inChannels(), cout = op.outChannels(), blocksH = out.h() / tile, blocksW = out.w() / tile;
        int windows = out.images() * blocksH * blocksW, frequencies = ConvWay.frequencies(tile);
        boolean tensor = shape.kernel() == Kernel.GEMM_TENSOR; // stores its products as float16 maps; conv2d sums in float32
        long v = alloc((long) frequencies * cin * windows);
        long m = tensor ? alloc((long) frequencies * cout * windows) : alloc32((long) frequencies * cout * windows);
        kernels.call(tile == 2 ? Kernel.WINOGRAD_INPUT : Kernel.WINOGRAD4_INPUT).buffer(x).buffer(v).u(cin).u(in.h()).u(in.w())
                .u(in.imageStride()).u(in.channelStride()).u(blocksH).u(blocksW).i(padTop).i(padLeft).u((long) cin * windows)
                .launch((long) cin * windows);
        long u = model.winogradWeights(node, tile);
        long k = (long) frequencies * cin;
        if (tensor) { // frequency f: U[:, f cin ..] [cout][cin] times V[f cin ..] [cin][windows]
            kernels.call(Kernel.GEMM_TENSOR).buffer(u).buffer(v).buffer(m).u(cout).u(windows).u(cin).u(k).u(windows).u(windows)
                    .u(cin).u((long) cin * windows).u((long) cout * windows).launchBlocks(shape, cout, windows, frequencies);
        } else {
            gemm(shape, Window.POINT, u, k, 1, 0, v, Layout.packed(1, (int) k, 1, windows), 0,
                    Layout.packed(1, cout, 1, windows), null, frequencies, cin, m);
        }
        free(v);
        kernels.call(tile == 2 ? Kernel.WINOGRAD_OUTPUT : Kernel.WINOGRAD4_OUTPUT).buffer(m).buffer(model.params(node)[1]).buffer(y)
                .u(cout).u(out.h()).u(out.w()).u(out.imageStride()).u(out.channelStride()).u(blocksH).u(blocksW)
                .u(activationCode(act)).f(slope(act)).u((long) cout * windows).u(tensor ? 1 : 0).launch((long) cout * windows);
        free(m);
    }

    /** A convolution's window: kernel size, stride and the zero padding before the first row and column. */
    private record Window(int kernelH, int kernelW, int stride, int padTop, int padLeft) {
        /** A 1x1 convolution: a plain matrix product W x. */
        static final Window POINT = new Window(1, 1, 1, 0, 0);
    }

    /**
     * {@code y = act(W im2col(x) + bias)} (conv.glsl), with W[m, k] at {@code weights + (m wRow + k wColumn)}
     * elements and {@code bias} 0 for none: on tensor cores for float16 maps where the device has them;
     * split along K (then summed by sum_slices) where its blocks alone would leave the GPU idle.
     */
    private void implicitGemm(Window window, long weights, long wRow, long wColumn, long bias, long x, Layout in, long y, Layout out,
            Op.@Nullable Activation act) {
        ConvWay way = defaultDirect(out.channels(), pixels(out), in.channels() * window.kernelH() * window.kernelW());
        gemmSlices(way.shape(), way.slices(), window, weights, wRow, wColumn, bias, x, in, y, out, act);
    }

    /**
     * {@link #implicitGemm} of attention {@code node}'s product {@code product} (1x1, no bias), the
     * way the model chose for it at about this many queries: timed like a conv's, with the
     * weights' matrix on scratch memory too.
     */
    private void attentionProduct(Node node, int product, int queries, long weights, long wRow, long wColumn, long x, Layout in, long y,
            Layout out) {
        long rows = out.channels(), pixels = pixels(out);
        int k = in.channels();
        ConvWay way = !timeConvWays ? defaultDirect(rows, pixels, k)
                : model.convWay(new ProductKey(node, product, Long.highestOneBit(queries)), () -> {
                    List<ConvWay> ways = directWays(rows, pixels, k);
                    if (ways.size() == 1) return ways.get(0);
                    long[] scratch = {extent(in), extent(out), (rows - 1) * wRow + (k - 1) * wColumn + 1}; // x, y, weights
                    return fastest(node.name() + " product " + product + " " + out, ways, scratch, (w, s) -> gemmSlices(w.shape(),
                            w.slices(), Window.POINT, s[2], wRow, wColumn, 0, s[0], in, s[1], out, null));
                });
        gemmSlices(way.shape(), way.slices(), Window.POINT, weights, wRow, wColumn, 0, x, in, y, out, null);
    }

    /** Slices of K that give a product of {@code shape} blocks about {@code busy} workgroups (at least one chunk a slice). */
    private static int slices(Kernel.GemmShape shape, long rows, long pixels, int k, long busy) {
        int chunks = (k + SLICE_UNIT - 1) / SLICE_UNIT;
        long blocks = (rows + shape.blockRows() - 1) / shape.blockRows() * ((pixels + shape.blockColumns() - 1) / shape.blockColumns());
        int slices = (int) Math.max(1, Math.min(busy / blocks, chunks));
        int sliceK = (chunks + slices - 1) / slices * SLICE_UNIT;
        return (k + sliceK - 1) / sliceK;
    }

    /** {@link #implicitGemm} in {@code shape} blocks, K split into {@code slices} (then summed by sum_slices). */
    private void gemmSlices(Kernel.GemmShape shape, int slices, Window window, long weights, long wRow, long wColumn, long bias, long x,
            Layout in, long y, Layout out, Op.@Nullable Activation act) {
        long rows = out.channels(), pixels = pixels(out);
        int k = in.channels() * window.kernelH() * window.kernelW();
        int sliceK = slices == 1 ? k : ((k + SLICE_UNIT - 1) / SLICE_UNIT + slices - 1) / slices * SLICE_UNIT;
        long partial = slices > 1 ? alloc32(slices * rows * pixels) : 0;
        gemm(shape, window, weights, wRow, wColumn, bias, x, in, y, out, act, slices, sliceK, partial);
        if (slices > 1) {
            kernels.again(Kernel.SUM_SLICES).launch(rows * pixels); // conv.glsl's buffers and parameters
            free(partial);
        }
    }

    /**
     * One launch of conv.glsl's product by the shape's kernel (conv2d or conv2d_coop): with
     * {@code slices} > 1, its float32 partial sums [slices][rows][pixels] into {@code partial}.
     */
    private void gemm(Kernel.GemmShape shape, Window window, long weights, long wRow, long wColumn, long bias, long x,
            Layout in, long y, Layout out, Op.@Nullable Activation act, int slices, int sliceK, long partial) {
        kernels.call(shape.kernel()).buffer(x).buffer(weights).buffer(bias).buffer(y).buffer(partial)
                .u(in.channels()).u(in.h()).u(in.w()).u(in.imageStride()).u(in.channelStride())
                .u(out.channels()).u(out.h()).u(out.w()).u(out.imageStride()).u(out.channelStride())
                .u(out.images()).u(window.kernelH()).u(window.kernelW()).u(window.stride()).i(window.padTop()).i(window.padLeft())
                .u(activationCode(act)).f(slope(act)).u(slices).u(sliceK).u(wRow).u(wColumn)
                .launchBlocks(shape, out.channels(), pixels(out), slices);
    }

    /** Elements of a group one workgroup of group_norm_parts sums: larger groups are cut into parts (at most 256). */
    private static final long NORM_PART = 8192;
    /**
     * Products of fewer blocks than this split K. Measured on the H100 (512-channel 3x3 convs on 8x8
     * to 32x32 maps): conv2d's 128x128 blocks ran fastest split to about 128 workgroups, 2x faster
     * at 8x8 than to 256; conv2d_coop's 128x32 blocks to about 256 (1.6x faster than 128).
     */
    private static final long BUSY_WORKGROUPS = 128, BUSY_WORKGROUPS_COOP = 256;
    /**
     * K is split at multiples of the conv kernels' chunks (TILE_K: 16 in conv2d, 32 in conv2d_coop),
     * down to one a slice: on the H100 (2026-11-23), float32 sparse passes at 1.2% took 5.77 ms (DDPM)
     * and 2.67 ms (GauGAN) against 6.18 and 2.81 ms with at least four chunks a slice.
     */
    private static final int SLICE_UNIT = 32;

    /**
     * Single-head attention of {@code queries} [C, P] against keys and values of the map at {@code qkv}
     * (q, k, v of [C, tokens] each): {@code out[C, P] = v softmax(q^T k / sqrt(C))^T}. Both products
     * run as 1x1 convolutions (the tensor-core kernel in float16, split along K when small): scores
     * [P, tokens] with q^T as the weights (transposed) over k as a map of C channels; then v as the
     * weights over the scores read transposed, as P images of one pixel and tokens channels,
     * written as P images of one pixel into [C, P].
     */
    @Override
    protected void attention(Node node, long queries, int p, int c, long qkv, int tokens, long scores, long out) {
        if (p == 0) return;
        long keys = qkv + (long) c * tokens * elementBytes, values = keys + (long) c * tokens * elementBytes;
        attentionProduct(node, 0, p, queries, 1, p, keys, Layout.packed(1, c, 1, tokens), scores, Layout.packed(1, p, 1, tokens));
        kernels.call(Kernel.SOFTMAX_ROWS).buffer(scores).u(tokens).f((float) (1.0 / Math.sqrt(c))).launchGroups(p, 1);
        attentionProduct(node, 1, p, values, tokens, 1, scores, new Layout(p, tokens, 1, 1, tokens, 1), out, new Layout(p, c, 1, 1, 1, p));
    }

    private void channelAffine(long x, long y, long scale, long shift, int channels, long plane, long total, Op.@Nullable Activation act) {
        kernels.call(Kernel.CHANNEL_AFFINE).buffer(x).buffer(y).buffer(scale).buffer(shift).u(channels).u(plane).u(total)
                .u(activationCode(act)).f(slope(act)).launch(total);
    }

    private void copyChannels(long src, int srcC, int srcStart, long dst, int dstC, int dstStart, int count, int n, long plane) {
        long total = (long) n * count * plane;
        kernels.call(Kernel.COPY_CHANNELS).buffer(src).buffer(dst).u(srcC).u(srcStart).u(dstC).u(dstStart).u(count).u(plane).u(total)
                .launch(total);
    }

    private static int activationCode(Op.@Nullable Activation act) {
        return act == null ? 0 : act.kind().ordinal() + 1; // RELU, LEAKY_RELU, SILU, TANH as in common.glsl
    }

    private static float slope(Op.@Nullable Activation act) {
        return act == null ? 0f : act.slope();
    }

    // ---------------------------------------------------------------- sparse pass

    @Override
    public Tensor sparse(ActivationCache cache, SparsePlan plan, boolean update, @Nullable Progress progress, Tensor... inputs) {
        Inputs.checkSparse(planner, cache, inputs);
        int outId = graph.output().id();
        try {
            if (plan.isNoChange()) {
                Tensor result = download(cache.entry(outId, DeviceBuffer.class).address, graph.output().shape());
                submit("sparse");
                return result;
            }
            for (int i = 0; i < inputs.length; i++) full[graph.inputs().get(i).id()] = upload(inputs[i]);
            uploadPlanData(plan);
            markUploaded();
            List<SparsePlan.Step> steps = plan.steps();
            for (int i = 0; i < steps.size(); i++) {
                execute(steps.get(i), cache);
                markStep(StepProfile.key(steps.get(i)));
                if (progress != null) progress.step(i + 1, steps.size());
            }
            long out = planner.changed(graph.output()) ? full[outId] : cache.entry(outId, DeviceBuffer.class).address;
            Tensor result = download(out, graph.output().shape());
            if (update) writeBack(cache);
            submit("sparse");
            return result;
        } finally {
            endPass();
        }
    }

    /** Puts what the pass reads besides maps (tile corners, gather index maps) on the device, when it changed since the last pass. */
    private void uploadPlanData(SparsePlan plan) {
        int[] data = layOutPlanData(plan);
        if (data == null) return;
        if (planBuffer == null || planHost.capacity() < data.length) {
            int capacity = Math.max(Math.max(1, data.length), 2 * planHost.capacity());
            planHost = ByteBuffer.allocateDirect(4 * capacity).order(ByteOrder.nativeOrder()).asIntBuffer();
            if (planBuffer != null) planBuffer.close();
            planBuffer = new DeviceBuffer(model.device, 4L * capacity);
        }
        planData = planBuffer.address;
        planHost.clear();
        planHost.put(data).flip();
        if (data.length > 0) stream.upload(planHost, planBuffer.address);
    }

    @Override
    protected void affine(long x, long y, long affine, int channels, long plane, Op.@Nullable Activation act) {
        channelAffine(x, y, affine, affine + 4L * channels, channels, plane, channels * plane, act);
    }

    @Override
    protected void pointwise(Node n, long[] args, Shape[] shapes, long out, int channels, int positions, Op.@Nullable Activation act) {
        pointwise(n, args, shapes, out, 1, channels, positions, act);
    }

    @Override
    protected void tileConv(Node n, long tiles, TileGeometry in, long result, TileGeometry out) {
        Op.Conv2d conv = (Op.Conv2d) n.op();
        conv(n, tiles, Layout.tiles(in.count(), conv.inChannels(), in.tileHeight(), in.tileWidth()), result,
                Layout.tiles(out.count(), conv.outChannels(), out.tileHeight(), out.tileWidth()), 0, 0, null);
    }

    @Override
    protected DeviceBuffer allocateMap(long bytes) {
        return new DeviceBuffer(model.device, bytes);
    }

    @Override
    protected void gather(GatherSource a, @Nullable GatherSource b, boolean modulates, long vector, int positions, int channels,
            long scale, long shift, Op.@Nullable Activation act, long out) {
        long total = (long) channels * positions;
        kernels.call(Kernel.GATHER).buffer(a.index()).buffer(a.tiles()).buffer(a.map()).buffer(out).buffer(scale).buffer(shift)
                .buffer(b == null ? 0 : b.index()).buffer(b == null ? 0 : b.tiles()).buffer(b == null ? 0 : b.map()).buffer(vector)
                .u(positions).u(a.tilePositions()).u(a.plane()).u(b == null ? 0 : b.tilePositions()).u(b == null ? 0 : b.plane())
                .u(total).u(activationCode(act)).f(slope(act)).u(modulates ? 1 : 0).launch(total);
    }

    @Override
    protected long param(Node node, int index) {
        return model.params(node)[index];
    }

    @Override
    protected void scatterTiles(long tiles, long map, TileGeometry g, int channels) {
        kernels.call(Kernel.SCATTER).buffer(tiles).buffer(map).buffer(originsAt(g));
        tileParams(g).u((long) channels * g.positions()).launch((long) channels * g.positions());
    }

    @Override
    protected void restoreTiles(long src, long dst, TileGeometry g, int channels) {
        kernels.call(Kernel.RESTORE).buffer(src).buffer(dst).buffer(originsAt(g));
        tileParams(g).u((long) channels * g.positions()).launch((long) channels * g.positions());
    }

    @Override
    protected void zeroPadding(long tiles, TileGeometry g, int channels) {
        kernels.call(Kernel.ZERO_PADDING).buffer(tiles).buffer(originsAt(g));
        tileParams(g).u((long) channels * g.positions()).launch((long) channels * g.positions());
    }

    /** The push constants every tile kernel starts with: the geometry (tiles.glsl). */
    private Dispatch tileParams(TileGeometry g) {
        return kernels.u(g.count()).u(g.height()).u(g.width()).u(g.tileHeight()).u(g.tileWidth());
    }

    // ---------------------------------------------------------------- memory and passes

    @Override
    protected long alloc(long elements) {
        return stream.scratch(elements * elementBytes);
    }

    private long alloc32(long floats) {
        return stream.scratch(floats * Float.BYTES);
    }

    @Override
    protected void copy(long src, long dst, long bytes) {
        stream.copy(src, dst, bytes);
    }

    /** A host tensor on the device at the storage precision (scratch). */
    private long upload(Tensor t) {
        long f32 = alloc32(t.size());
        stream.upload(t.data(), f32);
        if (!half) return f32;
        long h = alloc(t.size());
        kernels.call(Kernel.TO_HALF).buffer(f32).buffer(h).u(t.size()).launch(t.size());
        return h;
    }

    /** A float32 host tensor that the map at {@code address} is copied into when the pass is submitted. */
    private Tensor download(long address, Shape shape) {
        long src = address;
        if (half) {
            src = alloc32(shape.size());
            kernels.call(Kernel.TO_FLOAT).buffer(address).buffer(src).u(shape.size()).launch(shape.size());
        }
        Tensor t = Tensor.zeros(shape);
        stream.download(src, t.data());
        return t;
    }

    /** Marks the end of the input upload: a profile step, or where a timed pass's GPU time starts. */
    private void markUploaded() {
        if (profile.enabled()) {
            markStep("upload");
        } else if (PASS_TIMES) {
            stream.mark();
        }
    }

    /** With profiling on, marks the end of the work described since the previous mark, which did {@code kind}. */
    private void markStep(String kind) {
        if (!profile.enabled()) return;
        stream.mark();
        marked.add(kind);
    }

    /** Runs the described {@code pass} (dense, full or sparse); with profiling on, adds its steps' device time to the profile. */
    private void submit(String pass) {
        boolean timed = PASS_TIMES && !profile.enabled();
        if (timed) stream.mark();
        long start = System.nanoTime();
        stream.submit();
        submitted = true;
        long[] marks = stream.marks();
        if (timed) { // marks: the upload's end (none in a pass without inputs), the pass's end
            long uploaded = marks.length > 1 ? marks[0] : 0;
            System.err.printf("pass %s: upload %.3f ms, gpu %.3f ms, submit and wait %.3f ms%n", pass, uploaded / 1e6,
                    (marks[marks.length - 1] - uploaded) / 1e6, (System.nanoTime() - start) / 1e6);
            return;
        }
        for (int i = 0; i < marks.length; i++) profile.add(marked.get(i), marks[i] - (i == 0 ? 0 : marks[i - 1]));
    }

    /**
     * Prints each pass's device time after its input upload, and the upload's
     * (-Dtessera.vulkan.passTimes=true, on stderr; the pass is recorded once more, with timestamps):
     * what compares with the CUDA backend's -Dtessera.cuda.passTimes, whose GPU time follows the upload.
     */
    private static final boolean PASS_TIMES = Boolean.getBoolean("tessera.vulkan.passTimes");

    private void endPass() {
        if (!submitted) {
            // The pass never ran: neither its scatters nor its plan-data upload happened.
            stream.discard();
            forgetUnrunPass();
        }
        submitted = false;
        marked.clear();
        endPassForms();
        if (timing != null) {
            timing.close();
            timing = null;
        }
    }

    @Override
    public StepProfile profile() {
        return profile;
    }

    @Override
    public void close() {
        closeWorkingMaps();
        if (planBuffer != null) planBuffer.close();
        passStream.close();
        if (timing != null) timing.close();
    }
}
