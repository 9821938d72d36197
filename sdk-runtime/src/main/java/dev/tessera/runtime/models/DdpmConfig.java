package dev.tessera.runtime.models;

import dev.tessera.runtime.mask.MaskRule;
import dev.tessera.runtime.sparse.SparsePolicy;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * Hyperparameters of the reference's DDPM UNet ({@code config.model} and {@code config.data.image_size}).
 *
 * @param attnResolutions feature-map sizes that get a self-attention block after each res block
 */
public record DdpmConfig(int resolution, int inChannels, int outChannels, int ch, List<Integer> chMult,
        int numResBlocks, List<Integer> attnResolutions) {
    /** GroupNorm as the reference's {@code Normalize}: 32 groups, eps 1e-6. */
    public static final int GROUPS = 32;
    public static final float GROUP_NORM_EPS = 1e-6f;

    public DdpmConfig {
        chMult = Collections.unmodifiableList(new ArrayList<>(chMult));
        attnResolutions = Collections.unmodifiableList(new ArrayList<>(attnResolutions));
    }

    /**
     * The reference's sparse setting: levels at or above {@code threshold} (its
     * {@code sparse_resolution_threshold}: 64 for church) run sparse; conv_in, norm_out and conv_out
     * stay dense (norm_out recomputes its statistics).
     */
    public SparsePolicy sparsePolicy(int threshold) {
        return SparsePolicy.of(threshold, "conv_in", "norm_out", "conv_out");
    }

    /**
     * The reference runner's masks: pixels changed by more than 0.01, dilated by {@code dilation}
     * (5 for church at 256), pyramid down to the lowest UNet level with dilation 1.
     */
    public MaskRule maskRule(int dilation) {
        int lowest = resolution >> (chMult.size() - 1);
        return new MaskRule(0.01f, dilation, lowest, lowest, 1);
    }

    /** LSUN Church 256x256, the reference's church config. */
    public static DdpmConfig church256() {
        return new DdpmConfig(256, 3, 3, 128, Arrays.asList(1, 1, 2, 2, 4, 4), 2, Collections.singletonList(16));
    }
}
