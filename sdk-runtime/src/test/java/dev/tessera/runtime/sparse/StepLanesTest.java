package dev.tessera.runtime.sparse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.Golden;
import dev.tessera.runtime.cpu.CpuSparseExecutor;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.models.ModelsForTests;
import dev.tessera.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.List;
import java.util.PriorityQueue;
import org.junit.jupiter.api.Test;

/**
 * Lanes must order every dependency: the golden edits' plans run, on the CPU, in the most reversed
 * order their lanes and waits allow, and still give the plan order's output bit for bit.
 */
class StepLanesTest {

    @Test
    void gauganRunsItsSpadeConvsBesideTheTrunkAndAnyOrderTheLanesAllowGivesTheSameOutput() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            SparsePlanner planner = ModelsForTests.goldenGauganPlanner(w);
            Tensor original = c.tensor("semantics_original"), edited = c.tensor("semantics_edited");
            SparsePlan plan = ModelsForTests.goldenGauganPlan(planner, original, edited);
            StepLanes lanes = StepLanes.of(plan, 4);
            assertEquals(4, lanes.lanes());
            // Some SPADE conv (its input comes from the label map only) runs on another lane than the conv after it.
            List<SparsePlan.Step> steps = plan.steps();
            boolean beside = false;
            for (int i = 0; i < steps.size(); i++) {
                if (steps.get(i) instanceof SparsePlan.RunTiles t && t.node().name().endsWith("mlp_gamma_beta")) {
                    for (int j = i + 1; j < steps.size(); j++) {
                        if (steps.get(j) instanceof SparsePlan.RunTiles u && u.node().op() instanceof Op.Conv2d
                                && !u.node().name().contains("mlp")) {
                            beside |= lanes.lane(i) != lanes.lane(j);
                            break;
                        }
                    }
                }
            }
            assertTrue(beside, "every SPADE conv runs on the trunk's lane");
            assertReorderedRunsMatch(planner, plan, lanes, new Tensor[] {original}, new Tensor[] {edited});
        }
    }

    @Test
    void ddpmInAnyOrderTheLanesAllowGivesTheSameOutput() {
        try (SafetensorsFile w = Golden.weights("ddpm"); SafetensorsFile c = Golden.tensors("ddpm")) {
            SparsePlanner planner = ModelsForTests.goldenDdpmPlanner(w);
            MaskPyramid masks = Golden.ddpmMasks(c);
            SparsePlan plan = planner.plan(new BlockSets(masks));
            for (int maxLanes : new int[] {2, 4}) {
                assertReorderedRunsMatch(planner, plan, StepLanes.of(plan, maxLanes),
                        new Tensor[] {c.tensor("xt_original"), c.tensor("timestep")}, new Tensor[] {c.tensor("xt_edited"), c.tensor("timestep")});
            }
        }
    }

    @Test
    void serialLanesAreThePlanOrder() {
        try (SafetensorsFile w = Golden.weights("ddpm"); SafetensorsFile c = Golden.tensors("ddpm")) {
            SparsePlan plan = ModelsForTests.goldenDdpmPlanner(w).plan(new BlockSets(Golden.ddpmMasks(c)));
            for (StepLanes lanes : new StepLanes[] {StepLanes.serial(plan), StepLanes.of(plan, 1)}) {
                assertEquals(1, lanes.lanes());
                for (int i = 0; i < plan.steps().size(); i++) {
                    assertEquals(0, lanes.lane(i));
                    assertEquals(0, lanes.waits(i).length);
                    assertTrue(!lanes.signals(i));
                }
            }
        }
    }

    /**
     * Runs the plan's steps in plan order and again in the order that, among the steps whose lane
     * predecessor and waits are done, always takes the latest in the plan: a dependency the lanes
     * missed lets its reader run first.
     */
    private static void assertReorderedRunsMatch(SparsePlanner planner, SparsePlan plan, StepLanes lanes, Tensor[] original, Tensor[] edited) {
        List<SparsePlan.Step> steps = plan.steps();
        int n = steps.size();
        List<List<Integer>> after = new ArrayList<>(); // step -> steps that wait for it or follow it on its lane
        int[] pending = new int[n];
        int[] lastOnLane = new int[lanes.lanes()];
        java.util.Arrays.fill(lastOnLane, -1);
        for (int i = 0; i < n; i++) after.add(new ArrayList<>());
        for (int i = 0; i < n; i++) {
            int previous = lastOnLane[lanes.lane(i)];
            if (previous >= 0) {
                after.get(previous).add(i);
                pending[i]++;
            }
            lastOnLane[lanes.lane(i)] = i;
            for (int d : lanes.waits(i)) {
                assertTrue(d < i && lanes.lane(d) != lanes.lane(i) && lanes.signals(d), "wait of step " + i + " on " + d);
                after.get(d).add(i);
                pending[i]++;
            }
        }
        PriorityQueue<Integer> ready = new PriorityQueue<>((a, b) -> b - a);
        for (int i = 0; i < n; i++) if (pending[i] == 0) ready.add(i);
        List<SparsePlan.Step> reordered = new ArrayList<>();
        while (!ready.isEmpty()) {
            int i = ready.poll();
            reordered.add(steps.get(i));
            for (int j : after.get(i)) if (--pending[j] == 0) ready.add(j);
        }
        assertEquals(n, reordered.size());
        assertTrue(!reordered.equals(steps), "the lanes allow no other order");
        assertArrayEquals(run(planner, plan, original, edited), run(planner, new SparsePlan(plan.graph(), reordered), original, edited));
    }

    private static float[] run(SparsePlanner planner, SparsePlan plan, Tensor[] original, Tensor[] edited) {
        CpuSparseExecutor exec = new CpuSparseExecutor(planner);
        ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);
        exec.full(cache, original);
        return exec.sparse(cache, plan, edited).toArray();
    }
}
