package dev.tessera.runtime.models;

import dev.tessera.runtime.mask.MaskRule;
import dev.tessera.runtime.sparse.SparsePolicy;

/**
 * Hyperparameters of the reference's fused SPADE generator (GauGAN), named as in its options.
 *
 * @param ngf base channel count ({@code 16 * ngf} at the latent)
 * @param semanticNc input channels: label classes plus the instance-edge channel
 * @param cropSize output width
 * @param aspectRatio width / height
 * @param upsamplingLayers 5 ("normal"), 6 ("more") or 7 ("most")
 */
public record GauganConfig(int ngf, int semanticNc, int cropSize, double aspectRatio, int upsamplingLayers) {
    /** SynchronizedBatchNorm2d's default. */
    public static final float BATCH_NORM_EPS = 1e-5f;

    public GauganConfig {
        if (upsamplingLayers < 5 || upsamplingLayers > 7) {
            throw new IllegalArgumentException("upsamplingLayers must be 5, 6 or 7, got " + upsamplingLayers);
        }
    }

    /** The reference's Cityscapes generator (gaugan/test.py defaults: ngf 64, crop 512, aspect 2, "more"): 35 labels + instance edges, 512x256 output. */
    public static GauganConfig cityscapes() {
        return new GauganConfig(64, 36, 512, 2.0, 6);
    }

    /**
     * The reference's sparse setting ({@code num_sparse_layers} 5): residual blocks from G_middle_1
     * on ("more"; from up_0 with "most") run sparse; fc and conv_img are exact (the reference runs
     * them dense; conv_img runs on the tiles around the last block's changed tiles).
     */
    public SparsePolicy sparsePolicy() {
        return SparsePolicy.of(latentHeight() << (upsamplingLayers == 7 ? 3 : 2), "fc", "conv_img");
    }

    /** The reference runner's masks: any changed label or edge (dilated by 1), pyramid down to the latent, dilation 2. */
    public MaskRule maskRule() {
        return new MaskRule(1e-3f, 1, latentHeight(), latentWidth(), 2);
    }

    /** Width of the latent map the generator starts from. */
    public int latentWidth() {
        return cropSize >> upsamplingLayers;
    }

    public int latentHeight() {
        return (int) Math.round(latentWidth() / aspectRatio);
    }

    public int outputWidth() {
        return latentWidth() << upsamplingLayers;
    }

    public int outputHeight() {
        return latentHeight() << upsamplingLayers;
    }
}
