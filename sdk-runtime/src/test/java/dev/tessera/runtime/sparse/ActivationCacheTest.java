package dev.tessera.runtime.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.OverBudgetException;
import dev.tessera.runtime.Golden;
import dev.tessera.runtime.cpu.CpuSparseExecutor;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.models.ModelsForTests;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

class ActivationCacheTest {

    @Test
    void byteCountIsTheSumOfWhatItHolds() {
        ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);
        cache.put(3, Tensor.zeros(1, 4, 5, 6));
        cache.put(7, Tensor.zeros(1, 2));
        cache.putAffine("norm", new float[8], new float[8]);
        assertEquals(4L * (120 + 2) + 2 * 4 * 8, cache.bytes());
        ActivationCache half = new ActivationCache(ActivationCache.Precision.FP16, Long.MAX_VALUE);
        half.put(3, Tensor.zeros(1, 4, 5, 6));
        assertEquals(2L * 120, half.bytes());
    }

    @Test
    void budgetIsEnforcedWithANamedException() {
        ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, 100);
        cache.put(1, Tensor.zeros(1, 20));
        OverBudgetException e = assertThrows(OverBudgetException.class, () -> cache.put(2, Tensor.zeros(1, 10)));
        assertEquals(120, e.requiredBytes());
        assertTrue(e.getMessage().contains("budget of 100 bytes"), e.getMessage());
        assertEquals(80, cache.bytes());
    }

    @Test
    void fp16StorageHalvesTheCacheAndStaysClose() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            SparsePlanner planner = ModelsForTests.goldenGauganPlanner(w);
            SparsePlan plan = planner.plan(new BlockSets(ModelsForTests.GOLDEN_GAUGAN.maskRule().pyramid(Mask.fromTensor(c.tensor("difference_mask")))));
            Tensor[] outputs = new Tensor[2];
            long[] bytes = new long[2];
            for (ActivationCache.Precision p : ActivationCache.Precision.values()) {
                CpuSparseExecutor exec = new CpuSparseExecutor(planner);
                ActivationCache cache = new ActivationCache(p, Long.MAX_VALUE);
                exec.full(cache, c.tensor("semantics_original"));
                outputs[p.ordinal()] = exec.sparse(cache, plan, c.tensor("semantics_edited"));
                bytes[p.ordinal()] = cache.bytes();
            }
            assertTrue(bytes[1] < 0.51 * bytes[0], bytes[1] + " vs " + bytes[0]);
            double maxErr = outputs[0].maxAbsDifference(outputs[1]);
            System.out.printf("gaugan fp16 cache: %d bytes (fp32 %d), max |fp16 - fp32| %.2e%n", bytes[1], bytes[0], maxErr);
            assertTrue(maxErr < 1e-3, "fp16 cache error " + maxErr);
        }
    }
}
