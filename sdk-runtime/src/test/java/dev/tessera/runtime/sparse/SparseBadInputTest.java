package dev.tessera.runtime.sparse;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.InvalidInputException;
import dev.tessera.NoFullPassException;
import dev.tessera.runtime.Golden;
import dev.tessera.runtime.cpu.CpuSparseExecutor;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.models.Gaugan;
import dev.tessera.runtime.models.GauganConfig;
import dev.tessera.runtime.models.ModelsForTests;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Sparse passes refuse what does not fit, naming what was expected; a dense fallback stays exact. */
class SparseBadInputTest {
    static final GauganConfig C = ModelsForTests.GOLDEN_GAUGAN;

    @Test
    void badEditsAreNamed() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            SparsePlanner planner = new SparsePlanner(Gaugan.build(C, w), C.sparsePolicy(), 0);
            CpuSparseExecutor exec = new CpuSparseExecutor(planner);
            Tensor original = c.tensor("semantics_original"), edited = c.tensor("semantics_edited");
            SparsePlan plan = planner.plan(new BlockSets(C.maskRule().pyramid(C.maskRule().difference(original, edited))));
            ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);

            assertThrows(NoFullPassException.class, () -> exec.sparse(cache, plan, edited));
            exec.full(cache, original);
            InvalidInputException shape = assertThrows(InvalidInputException.class,
                    () -> exec.sparse(cache, plan, Tensor.zeros(Shape.nchw(1, 36, 64, 128))));
            assertTrue(shape.getMessage().contains("expected [1, 36, 128, 256]"), shape.getMessage());
            InvalidInputException mask = assertThrows(InvalidInputException.class,
                    () -> planner.plan(new BlockSets(MaskPyramid.ofMasks(Mask.full(64, 128)))));
            assertTrue(mask.getMessage().contains("masks have no 8x16 level"), mask.getMessage());
            InvalidInputException diff = assertThrows(InvalidInputException.class,
                    () -> C.maskRule().difference(original, Tensor.zeros(Shape.nchw(1, 36, 64, 128))));
            assertTrue(diff.getMessage().contains("[1, 36, 128, 256]"), diff.getMessage());
        }
    }

    @Test
    void convsOverTheActiveFractionRunDenseAndMatchTheDensePass() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            SparsePlanner planner = new SparsePlanner(Gaugan.build(C, w), C.sparsePolicy().withMaxActiveFraction(0.0), 0);
            CpuSparseExecutor exec = new CpuSparseExecutor(planner);
            Tensor original = c.tensor("semantics_original"), edited = c.tensor("semantics_edited");
            SparsePlan plan = planner.plan(new BlockSets(C.maskRule().pyramid(C.maskRule().difference(original, edited))));
            assertTrue(plan.steps().stream().noneMatch(s -> s instanceof SparsePlan.RunTiles), "every conv should fall back");
            ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);
            exec.full(cache, original);
            Golden.assertMatches("all-dense fallback", c.tensor("dense_edited"), exec.sparse(cache, plan, edited));
        }
    }
}
