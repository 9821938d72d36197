package dev.tessera.cuda;

import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.tensor.Half;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.ShortPointer;
import org.jspecify.annotations.Nullable;

/**
 * A graph's parameters on the GPU, shared by the executors of all sessions: conv and linear weights
 * at the storage precision (float16 for tensor cores in half mode), everything per-channel as
 * float32 (biases, batch-norm and SPADE scale/shift folded from running statistics, group-norm
 * affines), and the index maps of nearest resizes.
 */
final class CudaModel implements DeviceModel {
    final CudaDevice device;
    final boolean half;
    private final Map<Node, DeviceBuffer[]> params = new IdentityHashMap<>();
    private final Map<Long, DeviceBuffer> indexMaps = new HashMap<>();
    private final Map<WinogradKey, DeviceBuffer> winogradWeights = new HashMap<>();
    /**
     * How each conv runs, timed by the first executor that needs it (by {@link CudaExecutor.ConvShape}
     * or {@link CudaExecutor.TileConvKey}) and kept for every executor of the model: timing a model's
     * convs takes seconds.
     */
    final Map<Object, CudaExecutor.ConvWay> convWays = new java.util.concurrent.ConcurrentHashMap<>();
    /** cuDNN's algorithm for each full-map conv shape, chosen by the first executor that runs it, like {@link #convWays}. */
    final Convolutions.Plans cudnnPlans = new Convolutions.Plans();
    private final java.util.Set<WinogradKey> winogradChosen = new java.util.HashSet<>();
    private final List<DeviceBuffer> owned = new ArrayList<>();
    private boolean closed;

    CudaModel(CudaDevice device, ModelGraph graph, boolean half) {
        this.device = device;
        this.half = half;
        CudaDevice.bindThread();
        try {
            for (Node n : graph.nodes()) {
                DeviceBuffer[] p = upload(n.op());
                if (p != null) params.put(n, p);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    private DeviceBuffer @Nullable [] upload(Op op) {
        if (op instanceof Op.Conv2d c) return new DeviceBuffer[] {weights(c.weight()), c.bias() == null ? null : floats(c.bias())};
        if (op instanceof Op.Linear l) return new DeviceBuffer[] {weights(l.weight()), floats(l.bias())};
        if (op instanceof Op.GroupNorm g) return new DeviceBuffer[] {floats(g.weight()), floats(g.bias())};
        if (op instanceof Op.BatchNorm b) return folded(b.runningMean(), b.runningVar(), b.eps());
        if (op instanceof Op.Spade s) return folded(s.runningMean(), s.runningVar(), s.eps());
        return null;
    }

    /** Eval-mode normalization as {@code x * scale + shift}. */
    private DeviceBuffer[] folded(Tensor mean, Tensor var, float eps) {
        float[][] a = Op.evalNormAffine(mean, var, eps);
        return new DeviceBuffer[] {floats(Tensor.of(mean.shape(), a[0])), floats(Tensor.of(mean.shape(), a[1]))};
    }

    private DeviceBuffer floats(Tensor t) {
        try (FloatPointer host = new FloatPointer(t.data())) {
            return keep(DeviceBuffer.upload(host, (long) t.size() * Float.BYTES));
        }
    }

    private DeviceBuffer weights(Tensor t) {
        if (!half) return floats(t);
        FloatBuffer src = t.data();
        try (ShortPointer host = new ShortPointer(t.size())) {
            for (int i = 0; i < t.size(); i++) host.put(i, Half.fromFloat(src.get(i)));
            return keep(DeviceBuffer.upload(host, 2L * t.size()));
        }
    }

    private DeviceBuffer keep(DeviceBuffer b) {
        owned.add(b);
        return b;
    }

    /** The device buffers of a node's parameters (see {@link #upload}), or null if it has none. */
    DeviceBuffer @Nullable [] params(Node node) {
        return params.get(node);
    }

    /** Device address of PyTorch's nearest-resize source indices from {@code in} to {@code out} pixels. */
    synchronized long nearestIndex(int in, int out) {
        return indexMaps.computeIfAbsent(((long) in << 32) | out, key -> {
            try (IntPointer host = new IntPointer(Op.ResizeNearest.sourceIndex(in, out))) {
                return keep(DeviceBuffer.upload(host, 4L * out));
            }
        }).address;
    }

    /**
     * The Winograd F(MxM, 3x3) transform of a 3x3 conv's weights, [(M+2)^2, Cout, Cin] float32
     * ((M+2)^2 / 9 times the weights' memory), made on first use by {@code transform(weights, out)}
     * and kept for every executor of the model; only convs that try Winograd ask for it. {@code sync}
     * waits for the transform, so that executors on other streams may read it.
     */
    synchronized long winogradWeights(Node conv, int m, java.util.function.BiConsumer<Long, Long> transform, Runnable sync) {
        WinogradKey key = new WinogradKey(conv, m);
        DeviceBuffer u = winogradWeights.get(key);
        if (u == null) {
            Op.Conv2d c = (Op.Conv2d) conv.op();
            u = keep(DeviceBuffer.allocate((long) (m + 2) * (m + 2) * c.outChannels() * c.inChannels() * Float.BYTES));
            transform.accept(params.get(conv)[0].address, u.address);
            sync.run();
            winogradWeights.put(key, u);
        }
        return u.address;
    }

    private record WinogradKey(Node conv, int m) {}

    /**
     * Records how a conv runs (for {@link #convWays}) and frees the Winograd weights that no choice of
     * the conv uses: they were made to time a way that lost (F(4x4) weights are 4x the conv's weights,
     * and F(2x2) wins most convs). Executors time under the model's lock, so none is reading them.
     */
    synchronized void chose(Object key, Node conv, CudaExecutor.ConvWay way) {
        convWays.put(key, way);
        if (way.block > 0) winogradChosen.add(new WinogradKey(conv, way.block));
        for (CudaExecutor.ConvWay other : CudaExecutor.ConvWay.values()) {
            if (other.block == 0) continue;
            WinogradKey k = new WinogradKey(conv, other.block);
            if (winogradChosen.contains(k)) continue;
            DeviceBuffer unused = winogradWeights.remove(k);
            if (unused != null) {
                owned.remove(unused);
                unused.close();
            }
        }
    }

    @Override
    public GraphExecutor newExecutor(SparsePlanner planner) {
        return new CudaExecutor(this, planner, CudaExecutor.LANES);
    }

    @Override
    public String device() {
        return device.name + (half ? " (CUDA, float16)" : " (CUDA, float32)");
    }

    @Override
    public long peakMemoryBytes() {
        return CudaDevice.peakMemoryBytes();
    }

    @Override
    public void resetPeakMemory() {
        CudaDevice.resetPeakMemory();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        cudnnPlans.close();
        for (DeviceBuffer b : owned) b.close();
        owned.clear();
        params.clear();
        indexMaps.clear();
        winogradWeights.clear();
    }
}
