package dev.tessera.vulkan;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.io.RandomWeights;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.SparsePolicy;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.util.Map;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The executor around its passes: cancellation, profiles, peak memory. */
class VulkanExecutorTest {
    private static final Shape INPUT = Shape.nchw(1, 8, 32, 32);

    @BeforeAll
    static void needsVulkan() {
        String why = new VulkanBackendProvider().unavailableReason();
        assumeTrue(why == null, () -> "no Vulkan: " + why);
    }

    /** conv, ReLU, conv: both convs run sparse on 32 x 32 maps. */
    private static ModelGraph graph() {
        GraphBuilder g = new GraphBuilder(new RandomWeights(3));
        Value x = g.input(INPUT);
        Value y = g.activation("relu", g.conv("a", x, 16, 3), Op.Activation.of(Op.Activation.Kind.RELU));
        return g.build("two convs", g.conv("b", y, 8, 3));
    }

    /** A smooth input, shifted by {@code shift} in the 6 x 6 square at {@code (corner, corner)}. */
    private static Tensor input(float shift, int corner) {
        Tensor t = Tensor.zeros(INPUT);
        for (int i = 0; i < t.size(); i++) {
            int r = i / 32 % 32 - corner, c = i % 32 - corner;
            t.set(i, (float) Math.sin(i * 0.37) + (r >= 0 && r < 6 && c >= 0 && c < 6 ? shift : 0));
        }
        return t;
    }

    private static SparsePlan plan(SparsePlanner planner, int corner) {
        boolean[] changed = new boolean[32 * 32];
        for (int r = corner; r < corner + 6; r++) for (int c = corner; c < corner + 6; c++) changed[r * 32 + c] = true;
        return planner.plan(new BlockSets(MaskPyramid.ofMasks(Mask.of(32, 32, changed))));
    }

    /** What a test does with an executor of {@link #graph} whose cache holds the full pass of {@code input(0, 0)}. */
    private interface AfterFullPass {
        void run(SparsePlanner planner, GraphExecutor exec, ActivationCache cache);
    }

    private static void afterFullPass(AfterFullPass test) {
        ModelGraph graph = graph();
        SparsePlanner planner = new SparsePlanner(graph, SparsePolicy.of(1), 0);
        try (DeviceModel model = new VulkanBackendProvider().load(graph, ActivationCache.Precision.FP32);
                GraphExecutor exec = model.newExecutor(planner); ActivationCache cache = exec.newCache(Long.MAX_VALUE)) {
            exec.full(cache, null, input(0, 0));
            test.run(planner, exec, cache);
        }
    }

    @Test
    void aCancelledSparsePassRunsNothingAndTheNextOneIsRight() {
        afterFullPass((planner, exec, cache) -> {
            exec.sparse(cache, plan(planner, 0), false, null, input(1, 0)); // the working maps now hold tiles at (0, 0)
            SparsePlan elsewhere = plan(planner, 20);
            assertThrows(IllegalStateException.class, () -> exec.sparse(cache, elsewhere, false, (done, total) -> {
                if (done == total) throw new IllegalStateException("cancelled after its last scatter was described");
            }, input(1, 20)));
            Tensor sparse = exec.sparse(cache, elsewhere, false, null, input(1, 20));
            assertArrayEquals(exec.dense(input(1, 20)).toArray(), sparse.toArray(), 1e-5f,
                    "an edit inside the planned blocks equals the dense pass (no tiles left over at (0, 0))");
        });
    }

    @Test
    void aCancelledFirstSparsePassLeavesNoPlanDataBehind() {
        afterFullPass((planner, exec, cache) -> {
            SparsePlan plan = plan(planner, 10);
            assertThrows(IllegalStateException.class, () -> exec.sparse(cache, plan, false, (done, total) -> {
                throw new IllegalStateException("cancelled after its first step was described");
            }, input(1, 10)));
            Tensor sparse = exec.sparse(cache, plan, false, null, input(1, 10)); // same plan, same (no) working maps
            assertArrayEquals(exec.dense(input(1, 10)).toArray(), sparse.toArray(), 1e-5f,
                    "the tile corners and index maps the cancelled pass never uploaded are uploaded now");
        });
    }

    @Test
    void profilesTimeEachNodeAndStepOnTheDevice() {
        afterFullPass((planner, exec, cache) -> {
            exec.profile().setEnabled(true);
            Tensor profiled = exec.dense(input(1, 0));
            exec.sparse(cache, plan(planner, 0), false, null, input(1, 0));
            exec.profile().setEnabled(false);
            Map<String, Long> nanos = exec.profile().nanosByKind();
            assertTrue(nanos.get("dense Conv2d") > 0 && nanos.get("tile conv") > 0 && nanos.containsKey("gather"), nanos.toString());
            assertArrayEquals(exec.dense(input(1, 0)).toArray(), profiled.toArray(), "profiling changes timing, not results");
        });
    }

    @Test
    void peakMemoryCountsWeightsCachesAndScratch() {
        ModelGraph graph = graph();
        try (DeviceModel model = new VulkanBackendProvider().load(graph, ActivationCache.Precision.FP32);
                GraphExecutor exec = model.newExecutor(new SparsePlanner(graph, SparsePolicy.of(1), 0))) {
            model.resetPeakMemory();
            long before = model.peakMemoryBytes();
            exec.dense(input(0, 0));
            long mapBytes = 4L * INPUT.size();
            assertTrue(model.peakMemoryBytes() >= before + 3 * mapBytes, "input, 16-channel map and output: " + model.peakMemoryBytes());
        }
    }
}
