package dev.tessera.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.Golden;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.models.ModelsForTests;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Sparse passes spread over several streams give one stream's output bit for bit: eager, captured and replayed, in both precisions. */
class CudaLanesTest {
    @BeforeAll
    static void needsGpu() {
        assumeTrue(CudaDevice.unavailableReason() == null, () -> "no CUDA: " + CudaDevice.unavailableReason());
    }

    @Test
    void gauganOnFourLanesEqualsOneLane() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            SparsePlanner planner = ModelsForTests.goldenGauganPlanner(w);
            ModelGraph graph = planner.graph();
            Tensor original = c.tensor("semantics_original"), edited = c.tensor("semantics_edited");
            SparsePlan plan = ModelsForTests.goldenGauganPlan(planner, original, edited);
            for (ActivationCache.Precision p : ActivationCache.Precision.values()) {
                try (CudaModel model = (CudaModel) new CudaBackendProvider().load(graph, p)) {
                    float[] serial = threePasses(new CudaExecutor(model, planner, 1), plan, original, edited)[0];
                    for (float[] laned : threePasses(new CudaExecutor(model, planner, 4), plan, original, edited)) {
                        assertArrayEquals(serial, laned, p + " on four lanes");
                    }
                }
            }
        }
    }

    /** A full pass, then three sparse passes of one plan (eager, captured, replayed). */
    private static float[][] threePasses(CudaExecutor exec, SparsePlan plan, Tensor original, Tensor edited) {
        try (exec; ActivationCache cache = exec.newCache(Long.MAX_VALUE)) {
            exec.full(cache, null, original);
            float[][] out = new float[3][];
            for (int i = 0; i < 3; i++) out[i] = exec.sparse(cache, plan, false, null, edited).toArray();
            return out;
        }
    }
}
