package dev.tessera.runtime.sampling;

import dev.tessera.runtime.Golden;
import dev.tessera.runtime.cpu.CpuSparseExecutor;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.models.DdpmUnet;
import dev.tessera.runtime.models.ModelsForTests;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** The reference's 3-step DDIM SDEdit loop (golden ddpm case), dense and sparse. */
class SdEditConformanceTest {

    @Test
    void denseAndSparseLoopsMatchReference() {
        try (SafetensorsFile w = Golden.weights("ddpm"); SafetensorsFile c = Golden.tensors("ddpm")) {
            SparsePlanner planner = new SparsePlanner(DdpmUnet.build(ModelsForTests.GOLDEN_DDPM, w),
                    ModelsForTests.GOLDEN_DDPM.sparsePolicy(32), 0);
            CpuSparseExecutor exec = new CpuSparseExecutor(planner);
            Tensor original = c.tensor("x0_original"), edited = c.tensor("x0_edited"), noise = c.tensor("noise");
            Mask mask = Mask.fromTensor(c.tensor("difference_mask"));
            SdEdit sdedit = new SdEdit(NoiseSchedule.ddpmDefault(), new int[] {0, 100, 200});

            Tensor dense = sdedit.run(original, edited, noise, mask, (x, t, step) -> exec.dense(x, timestep(t)));
            Golden.assertMatches("ddim_final_dense", c.tensor("ddim_final_dense"), dense);

            SparsePlan plan = planner.plan(new BlockSets(ModelsForTests.GOLDEN_DDPM.maskRule(2).pyramid(mask)));
            Tensor sparse = sdedit.run(original, edited, noise, mask, (x, t, step) -> {
                ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);
                exec.full(cache, sdedit.originalSample(original, noise, step), timestep(t));
                return exec.sparse(cache, plan, x, timestep(t));
            });
            Golden.assertMatches("ddim_final_sparse_attnfix", c.tensor("ddim_final_sparse_attnfix"), sparse);
        }
    }

    private static Tensor timestep(int t) {
        return Tensor.of(Shape.of(1), new float[] {t});
    }
}
