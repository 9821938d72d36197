package dev.tessera.vulkan;

import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.tensor.Half;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import java.util.stream.IntStream;
import org.jspecify.annotations.Nullable;

/**
 * A graph's parameters on the device, shared by the executors of all sessions: conv and linear
 * weights at the storage precision (conv weights as [outC][kh][kw][inC], the K order of the conv2d
 * kernel), everything per-channel as float32 (biases, batch-norm and SPADE scale/shift folded from
 * running statistics, group-norm affines, timestep-embedding frequencies), and the index maps of
 * nearest resizes.
 */
final class VulkanModel implements DeviceModel {
    final ComputeDevice device;
    final boolean half;
    private final Runnable release; // gives the device back to the provider
    private final Map<Node, long[]> params = new IdentityHashMap<>();
    private final Map<Long, Long> indexMaps = new HashMap<>();
    /** Winograd weights by conv and output tile (2 or 4). */
    private final Map<TransformedWeights, DeviceBuffer> winograd = new HashMap<>();

    private record TransformedWeights(Node node, int tile) {}
    private final Map<VulkanExecutor.WayKey, VulkanExecutor.ConvWay> convWays = new HashMap<>();
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private boolean closed;

    VulkanModel(ComputeDevice device, ModelGraph graph, boolean half, Runnable release) {
        this.device = device;
        this.half = half;
        this.release = release;
        try (CommandStream stream = device.newStream()) {
            Loader loader = new Loader(stream);
            for (Node n : graph.nodes()) {
                long[] p = loader.params(n.op());
                if (p != null) params.put(n, p);
                if (n.op() instanceof Op.ResizeNearest) {
                    loader.nearestIndex(n.inputs().get(0).shape().h(), n.output().shape().h());
                    loader.nearestIndex(n.inputs().get(0).shape().w(), n.output().shape().w());
                }
            }
            stream.submit();
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Uploads parameters through one stream, submitting whenever a batch of staged bytes is full. */
    private final class Loader {
        /** Staging memory one submission may fill: bounds what loading reserves on the host. */
        private static final long BATCH_BYTES = 64L << 20;

        private final CommandStream stream;
        private ByteBuffer host = ByteBuffer.allocateDirect(0);
        private long staged;

        Loader(CommandStream stream) {
            this.stream = stream;
        }

        /** A node's parameters (see {@link VulkanModel#params(Node)}), or null when it has none. */
        long @Nullable [] params(Op op) {
            if (op instanceof Op.Conv2d c) {
                int in = c.inChannels(), kh = c.kernelH(), kw = c.kernelW();
                FloatBuffer w = c.weight().data();
                // Element (o, y, x, i) of OHWI is element ((o * in + i) * kh + y) * kw + x of OIHW.
                long weight = maps(c.weight().size(), at -> {
                    int i = at % in, x = (at / in) % kw, y = (at / (in * kw)) % kh, o = at / (in * kw * kh);
                    return w.get(((o * in + i) * kh + y) * kw + x);
                });
                return new long[] {weight, c.bias() == null ? 0 : floats(c.bias())};
            }
            if (op instanceof Op.Linear l) return new long[] {maps(l.weight().size(), l.weight()::get), floats(l.bias())};
            if (op instanceof Op.GroupNorm g) return new long[] {floats(g.weight()), floats(g.bias())};
            if (op instanceof Op.BatchNorm b) return folded(b.runningMean(), b.runningVar(), b.eps());
            if (op instanceof Op.Spade s) return folded(s.runningMean(), s.runningVar(), s.eps());
            if (op instanceof Op.TimestepEmbedding t) return new long[] {timestepFrequencies(t)};
            return null;
        }

        /** Eval-mode normalization as {@code x * scale + shift}. */
        private long[] folded(Tensor mean, Tensor var, float eps) {
            float[][] a = Op.evalNormAffine(mean, var, eps);
            return new long[] {floats(a[0].length, i -> a[0][i]), floats(a[1].length, i -> a[1][i])};
        }

        /** The embedding's frequencies as the CPU backend uses them, so both multiply the same floats. */
        private long timestepFrequencies(Op.TimestepEmbedding t) {
            float[] f = t.frequencies();
            return floats(Math.max(1, f.length), i -> i < f.length ? f[i] : 1f); // one float when there are none: no empty buffers
        }

        void nearestIndex(int in, int out) {
            indexMaps.computeIfAbsent(((long) in << 32) | out, key -> {
                ByteBuffer b = hostBuffer(4L * out);
                for (int index : Op.ResizeNearest.sourceIndex(in, out)) b.putInt(index);
                return send(b);
            });
        }

        private long floats(Tensor t) {
            return floats(t.size(), t::get);
        }

        private long floats(int count, Values values) {
            ByteBuffer b = hostBuffer(4L * count);
            for (int i = 0; i < count; i++) b.putFloat(values.at(i));
            return send(b);
        }

        /** {@code count} values at the storage precision (float16 in half mode). */
        private long maps(int count, Values values) {
            ByteBuffer b = hostBuffer((long) count * (half ? 2 : 4));
            for (int i = 0; i < count; i++) {
                if (half) b.putShort(Half.fromFloat(values.at(i)));
                else b.putFloat(values.at(i));
            }
            return send(b);
        }

        private ByteBuffer hostBuffer(long bytes) {
            if (host.capacity() < bytes) host = ByteBuffer.allocateDirect(Math.toIntExact(bytes)).order(ByteOrder.nativeOrder());
            host.clear();
            return host;
        }

        /** Uploads the host buffer up to its position into new device memory (the host buffer is free again on return). */
        private long send(ByteBuffer b) {
            b.flip();
            if (staged + b.remaining() > BATCH_BYTES) {
                stream.submit();
                staged = 0;
            }
            DeviceBuffer d = new DeviceBuffer(device, b.remaining());
            owned.add(d);
            stream.upload(b, d.address);
            staged += b.remaining();
            return d.address;
        }
    }

    /** Values to upload, by index. */
    private interface Values {
        float at(int index);
    }

    /**
     * The device addresses of a node's parameters, or null if it has none: conv [weight, bias or 0],
     * linear [weight, bias], group norm [weight, bias], batch norm and SPADE [scale, shift],
     * timestep embedding [frequencies].
     */
    long @Nullable [] params(Node node) {
        return params.get(node);
    }

    /**
     * The way a conv runs for {@code key}: chosen before, or now by {@code choose} (one choice at a
     * time: timing may make Winograd weights). Winograd weights that no choice of the conv uses are
     * freed again.
     */
    synchronized VulkanExecutor.ConvWay convWay(VulkanExecutor.WayKey key, Supplier<VulkanExecutor.ConvWay> choose) {
        VulkanExecutor.ConvWay way = convWays.get(key);
        if (way != null) return way;
        way = choose.get();
        convWays.put(key, way);
        for (int tile : new int[] {2, 4}) { // a transform no choice of the conv uses
            TransformedWeights t = new TransformedWeights(key.node(), tile);
            if (winograd.containsKey(t)
                    && convWays.entrySet().stream().noneMatch(e -> e.getKey().node() == key.node() && e.getValue().winograd() == tile)) {
                DeviceBuffer weights = winograd.remove(t);
                owned.remove(weights);
                weights.close();
            }
        }
        return way;
    }

    /**
     * The weights of 3x3 conv {@code node} for Winograd F(tile x tile, 3x3), made on first use: U = G
     * g G^T of each filter g, as [outC][A^2][inC] (A = tile + 2; frequency f = A i + j of U), at the
     * maps' precision. Made on all cores, output channels in parallel: a new edit's first pass may
     * ask for those of every conv, and a GPU left idle for about a second lowers its clocks.
     */
    synchronized long winogradWeights(Node node, int tile) {
        if (closed) throw new IllegalStateException("model closed");
        return winograd.computeIfAbsent(new TransformedWeights(node, tile), t -> {
            Op.Conv2d c = (Op.Conv2d) node.op();
            int out = c.outChannels(), in = c.inChannels(), a = tile + 2, frequencies = a * a;
            double[][] g = tile == 2 ? new double[][] {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}}
                    : new double[][] {{0.25, 0, 0}, {-1 / 6.0, -1 / 6.0, -1 / 6.0}, {-1 / 6.0, 1 / 6.0, -1 / 6.0},
                        {1 / 24.0, 1 / 12.0, 1 / 6.0}, {1 / 24.0, -1 / 12.0, 1 / 6.0}, {0, 0, 1}};
            int bytes = half ? 2 : 4; // stored as the maps are: the float16 product reads float16 weights
            int perOutput = frequencies * in * bytes;
            ByteBuffer b = ByteBuffer.allocateDirect(Math.multiplyExact(perOutput, out)).order(ByteOrder.nativeOrder());
            IntStream.range(0, out).parallel().forEach(o -> {
                ByteBuffer row = b.slice(o * perOutput, perOutput).order(ByteOrder.nativeOrder()); // this task's own view
                FloatBuffer weights = c.weight().data().duplicate();
                float[] filter = new float[9];
                double[] gf = new double[3 * a]; // G g: [A][3]
                for (int ci = 0; ci < in; ci++) {
                    weights.get((o * in + ci) * 9, filter);
                    for (int i = 0; i < a; i++) {
                        for (int s = 0; s < 3; s++) gf[3 * i + s] = g[i][0] * filter[s] + g[i][1] * filter[3 + s] + g[i][2] * filter[6 + s];
                    }
                    for (int f = 0; f < frequencies; f++) {
                        int i = f / a, j = f % a;
                        double u = gf[3 * i] * g[j][0] + gf[3 * i + 1] * g[j][1] + gf[3 * i + 2] * g[j][2]; // (G g G^T)[i][j]
                        int at = bytes * (f * in + ci);
                        if (half) row.putShort(at, Half.fromFloat((float) u));
                        else row.putFloat(at, (float) u);
                    }
                }
            });
            DeviceBuffer d = new DeviceBuffer(device, b.remaining());
            owned.add(d);
            try (CommandStream stream = device.newStream()) {
                stream.upload(b, d.address);
                stream.submit();
            }
            return d;
        }).address;
    }

    /** Device address of PyTorch's nearest-resize source indices from {@code in} to {@code out} pixels. */
    long nearestIndex(int in, int out) {
        Long address = indexMaps.get(((long) in << 32) | out);
        if (address == null) throw new IllegalStateException("no nearest-resize index map from " + in + " to " + out + " pixels");
        return address;
    }

    @Override
    public GraphExecutor newExecutor(SparsePlanner planner) {
        return new VulkanExecutor(this, planner);
    }

    @Override
    public String device() {
        return device.name() + (half ? " (Vulkan, float16)" : " (Vulkan, float32)");
    }

    /** The peak of the whole device: every model, cache and executor on it. */
    @Override
    public long peakMemoryBytes() {
        return device.peakMemoryBytes();
    }

    @Override
    public void resetPeakMemory() {
        device.resetPeakMemory();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        for (DeviceBuffer b : owned) b.close();
        owned.clear();
        params.clear();
        indexMaps.clear();
        winograd.clear();
        release.run();
    }
}
