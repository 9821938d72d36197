package dev.tessera.runtime.models;

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

    /** LSUN Church 256x256, the reference's church config. */
    public static DdpmConfig church256() {
        return new DdpmConfig(256, 3, 3, 128, Arrays.asList(1, 1, 2, 2, 4, 4), 2, Collections.singletonList(16));
    }
}
