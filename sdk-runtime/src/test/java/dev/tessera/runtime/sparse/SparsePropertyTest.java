package dev.tessera.runtime.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.cpu.CpuSparseExecutor;
import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Op.Activation;
import dev.tessera.runtime.graph.Op.Padding;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.io.RandomWeights;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Invariants of the sparse pass on random small graphs. */
class SparsePropertyTest {

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12})
    void fullMaskEqualsDenseWithFixedAffineNorms(long seed) {
        ModelGraph graph = randomGraph(seed, false);
        CpuSparseExecutor exec = new CpuSparseExecutor(new SparsePlanner(graph, SparsePolicy.of(1), 0));
        Tensor original = random(graph.inputs().get(0).shape(), seed), edited = random(graph.inputs().get(0).shape(), seed + 100);
        ActivationCache cache = newCache();
        exec.full(cache, original);
        SparsePlan plan = exec.planner().plan(new BlockSets(everywhere(graph, true)));
        assertClose(exec.dense(edited), exec.sparse(cache, plan, edited), "seed " + seed);
    }

    @ParameterizedTest
    @ValueSource(longs = {21, 22, 23, 24, 25, 26, 27, 28})
    void fullMaskEqualsDenseWithCachedGroupNormStatistics(long seed) {
        ModelGraph graph = randomGraph(seed, true);
        Tensor original = random(graph.inputs().get(0).shape(), seed), edited = random(graph.inputs().get(0).shape(), seed + 100);
        // Sparse everywhere vs. nothing sparse: both apply the original's cached statistics.
        CpuSparseExecutor sparse = new CpuSparseExecutor(new SparsePlanner(graph, SparsePolicy.of(1), 0));
        CpuSparseExecutor denseCached = new CpuSparseExecutor(new SparsePlanner(graph, SparsePolicy.of(Integer.MAX_VALUE), 0));
        ActivationCache a = newCache(), b = newCache();
        sparse.full(a, original);
        denseCached.full(b, original);
        BlockSets blocks = new BlockSets(everywhere(graph, true));
        Tensor expected = denseCached.sparse(b, denseCached.planner().plan(blocks), edited);
        assertClose(expected, sparse.sparse(a, sparse.planner().plan(blocks), edited), "seed " + seed);
    }

    @ParameterizedTest
    @ValueSource(longs = {31, 32, 33, 34})
    void emptyMaskGivesTheCachedOriginalBitForBit(long seed) {
        ModelGraph graph = randomGraph(seed, seed % 2 == 0);
        CpuSparseExecutor exec = new CpuSparseExecutor(new SparsePlanner(graph, SparsePolicy.of(1), 0));
        Tensor original = random(graph.inputs().get(0).shape(), seed);
        ActivationCache cache = newCache();
        float[] cached = exec.full(cache, original).toArray();
        assertArrayEquals(cached, exec.sparse(cache, SparsePlan.noChange(graph), original).toArray());
        SparsePlan noBlocks = exec.planner().plan(new BlockSets(everywhere(graph, false)));
        assertArrayEquals(cached, exec.sparse(cache, noBlocks, original).toArray());
    }

    private static ActivationCache newCache() {
        return new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);
    }

    /** A chain of random layers (convs of kernel 1 and 3, strides 1 and 2, norms, activations, residuals, upsampling). */
    static ModelGraph randomGraph(long seed, boolean groupNorm) {
        SplittableRandom r = new SplittableRandom(seed);
        GraphBuilder g = new GraphBuilder(new RandomWeights(seed));
        int channels = 8;
        Value x = g.input(Shape.nchw(1, channels, 12 + r.nextInt(13), 12 + r.nextInt(13)));
        Value h = g.conv("in", x, channels, 3);
        for (int i = 0; i < 6; i++) {
            String key = "l" + i;
            int kind = r.nextInt(6);
            if (kind == 0) {
                h = g.conv(key, h, channels, 1);
            } else if (kind == 1 && h.shape().h() >= 8) {
                h = g.conv(key, h, channels, 3, 2, r.nextBoolean() ? Padding.same(1) : new Padding(0, 0, 1, 1), true);
            } else if (kind == 2 && h.shape().h() <= 24) {
                h = g.conv(key + ".conv", g.upsample2x(key + ".up", h), channels, 3);
            } else if (kind == 3) {
                Value n = groupNorm ? g.groupNorm(key + ".norm", h, 4, 1e-5f)
                        : g.add(key + ".norm", new Op.BatchNorm(g.weight(key + ".mean", channels), g.weight(key + ".running_var", channels), 1e-5f), h);
                Value branch = g.conv(key + ".conv", g.activation(key + ".act", n, Activation.of(Activation.Kind.SILU)), channels, 3);
                h = g.sum(key, h, branch);
            } else {
                h = g.activation(key, h, Activation.leakyRelu(0.2f));
                h = g.conv(key + ".conv", h, channels, 3);
            }
        }
        return g.build("random" + seed, h);
    }

    /** At every conv input resolution, a mask that is all set (or all clear). */
    private static MaskPyramid everywhere(ModelGraph graph, boolean set) {
        Map<String, Mask> masks = new LinkedHashMap<>();
        for (Node n : graph.nodes()) {
            if (!(n.op() instanceof Op.Conv2d)) continue;
            Shape s = n.inputs().get(0).shape();
            masks.put(s.h() + "x" + s.w(), set ? Mask.full(s.h(), s.w()) : Mask.empty(s.h(), s.w()));
        }
        List<Mask> list = new ArrayList<>(masks.values());
        return MaskPyramid.ofMasks(list.toArray(new Mask[0]));
    }

    private static Tensor random(Shape shape, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.size(); i++) t.set(i, (float) (r.nextDouble() * 2 - 1));
        return t;
    }

    private static void assertClose(Tensor expected, Tensor actual, String label) {
        double maxErr = actual.maxAbsDifference(expected), maxRef = expected.maxAbs();
        assertTrue(maxErr <= 1e-5 * Math.max(1, maxRef), label + ": max |err| " + maxErr + ", max |ref| " + maxRef);
    }
}
