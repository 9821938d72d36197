package dev.tessera.runtime.models;

import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.tensor.Tensor;
import java.util.Arrays;
import java.util.Collections;

/** The model configurations of the golden cases (their meta.json). */
public final class ModelsForTests {
    public static final GauganConfig GOLDEN_GAUGAN = new GauganConfig(8, 36, 256, 2.0, 6);
    public static final DdpmConfig GOLDEN_DDPM = new DdpmConfig(64, 3, 3, 32, Arrays.asList(1, 2, 2), 1, Collections.singletonList(16));

    private ModelsForTests() {}

    /** The golden GauGAN with its sparse policy. */
    public static SparsePlanner goldenGauganPlanner(SafetensorsFile weights) {
        return new SparsePlanner(Gaugan.build(GOLDEN_GAUGAN, weights), GOLDEN_GAUGAN.sparsePolicy(), 0);
    }

    /** The golden GauGAN's masks for an edit from one semantic map to another: its mask rule on their difference. */
    public static MaskPyramid goldenGauganMasks(Tensor from, Tensor to) {
        return GOLDEN_GAUGAN.maskRule().pyramid(GOLDEN_GAUGAN.maskRule().difference(from, to));
    }

    /** The golden GauGAN's sparse plan for an edit from one semantic map to another. */
    public static SparsePlan goldenGauganPlan(SparsePlanner planner, Tensor from, Tensor to) {
        return planner.plan(new BlockSets(goldenGauganMasks(from, to)));
    }

    /** The golden DDPM UNet with the reference's sparse policy (block threshold 32, its full-mode layers), the edited input first. */
    public static SparsePlanner goldenDdpmPlanner(SafetensorsFile weights) {
        return new SparsePlanner(DdpmUnet.build(GOLDEN_DDPM, weights), GOLDEN_DDPM.sparsePolicy(32), 0);
    }
}
