package dev.tessera.runtime.sparse;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Golden;
import dev.tessera.runtime.graph.Node;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.cpu.CpuSparseExecutor;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.models.ModelsForTests;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The CPU sparse executor's reuse of its working maps between edits (golden conformance: CpuConformanceTest). */
class SparseConformanceTest {

    @Test
    void consecutiveEditsOnOneExecutorEqualFreshOnes() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            SparsePlanner planner = ModelsForTests.goldenGauganPlanner(w);
            Tensor original = c.tensor("semantics_original"), edited = c.tensor("semantics_edited");
            // A second edit: the golden edit mirrored left-right, so its tiles differ from the first's.
            Tensor mirrored = original.copy();
            int w0 = 256, plane = 128 * 256;
            for (int i = 0; i < mirrored.size(); i++) {
                int ch = i / plane, p = i % plane, y = p / w0, x = p % w0;
                mirrored.set(i, edited.get(ch * plane + y * w0 + (w0 - 1 - x)));
            }
            CpuSparseExecutor reused = new CpuSparseExecutor(planner);
            ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);
            reused.full(cache, original);
            for (Tensor edit : new Tensor[] {edited, mirrored, edited}) {
                SparsePlan plan = ModelsForTests.goldenGauganPlan(planner, original, edit);
                Tensor fresh = editOnce(planner, ModelsForTests.goldenGauganMasks(original, edit), original, edit);
                org.junit.jupiter.api.Assertions.assertArrayEquals(fresh.toArray(), reused.sparse(cache, plan, edit).toArray());
            }
        }
    }

    @Test
    void anExactConvRunsOnTilesAndSpadeRunsInsideItsGathersAndTheOutputStillEqualsTheReferences() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            SparsePlanner planner = ModelsForTests.goldenGauganPlanner(w);
            Tensor original = c.tensor("semantics_original"), edited = c.tensor("semantics_edited");
            MaskPyramid masks = ModelsForTests.goldenGauganMasks(original, edited);
            SparsePlan plan = planner.plan(new BlockSets(masks));
            // conv_img is dense in the reference (a full-mode node here): it must run on tiles, not whole.
            SparsePlan.RunTiles convImg = plan.steps().stream().filter(st -> st instanceof SparsePlan.RunTiles t && t.node().name().equals("conv_img"))
                    .map(st -> (SparsePlan.RunTiles) st).findFirst().orElseThrow();
            org.junit.jupiter.api.Assertions.assertTrue(convImg.out().positions() < convImg.node().output().shape().h() * convImg.node().output().shape().w() / 2,
                    "conv_img computes " + convImg.out());
            // Each SPADE on tiles runs inside the gather of its input, with the leaky ReLU that the dense
            // schedule runs inside it: no step of its own.
            assertTrue(plan.steps().stream().noneMatch(st -> st instanceof SparsePlan.RunTiles t
                    && t.node().op() instanceof Op.Spade), "a SPADE runs as a tile step of its own");
            assertTrue(plan.steps().stream().anyMatch(st -> st instanceof SparsePlan.Gather g && g.modulates()
                    && g.activation() != null), "no SPADE with its activation inside a gather");
            Golden.assertMatches("gaugan sparse, conv_img on tiles", c.tensor("sparse_edited"), editOnce(planner, masks, original, edited));
        }
    }

    @Test
    void anAddThatIsReadWholeRunsOnTilesAndIsScatteredIntoItsCachedMap() {
        try (SafetensorsFile w = Golden.weights("ddpm"); SafetensorsFile c = Golden.tensors("ddpm")) {
            SparsePlanner planner = ModelsForTests.goldenDdpmPlanner(w);
            SparsePlan plan = planner.plan(new BlockSets(Golden.ddpmMasks(c)));
            // up.1.block.1's residual add feeds the full-mode norm_out, which reads it whole: it is
            // computed on its conv's tiles and scattered, not added over the whole 32x32 map.
            Node add = planner.graph().nodes().stream().filter(n -> n.name().equals("up.1.block.1")).findFirst().orElseThrow();
            assertTrue(planner.cachedValues()[add.output().id()], "the add's output is not a scatter base");
            assertTrue(plan.steps().stream().anyMatch(st -> st instanceof SparsePlan.RunTiles t && t.node() == add));
            assertTrue(plan.steps().stream().anyMatch(st -> st instanceof SparsePlan.Scatter s && s.value() == add.output()));
            assertTrue(plan.steps().stream().noneMatch(st -> st instanceof SparsePlan.RunFull f && f.node().op() instanceof Op.Add
                    && f.node().output().shape().h() >= 32), "an add runs on a whole map at a sparse resolution");
            Golden.assertMatches("ddpm sparse, adds on tiles", c.tensor("sparse_edited_attnfix"),
                    editOnce(planner, Golden.ddpmMasks(c), c.tensor("xt_original"), c.tensor("xt_edited"), c.tensor("timestep")));
        }
    }

    /** Full pass on the original, then one sparse pass on the edit; extra inputs are shared by both. */
    static Tensor editOnce(SparsePlanner planner, MaskPyramid masks, Tensor original, Tensor edited, Tensor... shared) {
        CpuSparseExecutor exec = new CpuSparseExecutor(planner);
        ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);
        exec.full(cache, concat(original, shared));
        SparsePlan plan = planner.plan(new BlockSets(masks));
        return exec.sparse(cache, plan, concat(edited, shared));
    }

    private static Tensor[] concat(Tensor first, Tensor[] rest) {
        Tensor[] all = new Tensor[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }
}
