package dev.tessera.spi;

/** The operations of model graphs and sparse plans, for {@link BackendProvider#supports}. */
public enum OpKind {
    CONV2D, GROUP_NORM, BATCH_NORM, SPADE, ACTIVATION, RESIZE_NEAREST, SELF_ATTENTION, LINEAR,
    TIMESTEP_EMBEDDING, CONCAT, ADD, SLICE_CHANNELS,
    /** Sparse plans: gather tiles, scatter tiles, convolution and attention on tiles. */
    GATHER, SCATTER, TILE_CONV2D, TILE_ATTENTION
}
