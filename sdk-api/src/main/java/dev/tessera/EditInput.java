package dev.tessera;

/** What a model takes: an {@link Image} (diffusion models) or a {@link LabelMap} (GauGAN). */
public sealed interface EditInput permits Image, LabelMap {
    int width();

    int height();
}
