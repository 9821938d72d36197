package dev.tessera;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * What to load: an architecture, its weights (safetensors, PyTorch key names), hyperparameters
 * that differ from the architecture's default configuration, and run options. Immutable; each
 * {@code with...} returns a new spec.
 *
 * <pre>{@code
 * ModelSpec.gaugan(Path.of("gaugan.safetensors")).with("ngf", 8).withCacheBudget(512L << 20)
 * }</pre>
 */
public final class ModelSpec {
    /** Supported architectures and their default configurations. */
    public enum Architecture {
        /** SPADE generator, the reference's Cityscapes configuration. */
        GAUGAN,
        /** DDPM UNet, the reference's LSUN Church 256 configuration, edited with SDEdit/DDIM. */
        DDPM
    }

    /** Storage of cached activations: float32, or float16 for half the memory. */
    public enum CachePrecision { FP32, FP16 }

    private final Architecture architecture;
    private final Path weights;
    private final Map<String, Object> hyperparameters;
    private final @Nullable String backend;
    private final long cacheBudgetBytes;
    private final CachePrecision cachePrecision;

    private ModelSpec(Architecture architecture, Path weights, Map<String, Object> hyperparameters,
            @Nullable String backend, long cacheBudgetBytes, CachePrecision cachePrecision) {
        this.architecture = architecture;
        this.weights = weights;
        this.hyperparameters = Collections.unmodifiableMap(new LinkedHashMap<>(hyperparameters));
        this.backend = backend;
        this.cacheBudgetBytes = cacheBudgetBytes;
        this.cachePrecision = cachePrecision;
    }

    public static ModelSpec of(Architecture architecture, Path weights) {
        return new ModelSpec(architecture, weights, Collections.emptyMap(), null, Long.MAX_VALUE, CachePrecision.FP32);
    }

    public static ModelSpec gaugan(Path weights) {
        return of(Architecture.GAUGAN, weights);
    }

    public static ModelSpec ddpm(Path weights) {
        return of(Architecture.DDPM, weights);
    }

    /**
     * A hyperparameter, named as in the reference's options: GauGAN {@code ngf}, {@code semantic_nc},
     * {@code crop_size}, {@code aspect_ratio}, {@code num_upsampling_layers}; DDPM {@code image_size},
     * {@code ch}, {@code ch_mult}, {@code num_res_blocks}, {@code attn_resolutions},
     * {@code sparse_resolution_threshold}, {@code mask_dilate_radius}.
     */
    public ModelSpec with(String name, Object value) {
        Map<String, Object> h = new LinkedHashMap<>(hyperparameters);
        h.put(name, value);
        return new ModelSpec(architecture, weights, h, backend, cacheBudgetBytes, cachePrecision);
    }

    /** Run on this backend ("cpu", "cuda", "vulkan", ...) instead of the best available one. */
    public ModelSpec withBackend(String name) {
        return new ModelSpec(architecture, weights, hyperparameters, name, cacheBudgetBytes, cachePrecision);
    }

    /** At most this many bytes of cached activations for all sessions of the model together. */
    public ModelSpec withCacheBudget(long bytes) {
        if (bytes <= 0) throw new IllegalArgumentException("cache budget must be positive, got " + bytes);
        return new ModelSpec(architecture, weights, hyperparameters, backend, bytes, cachePrecision);
    }

    public ModelSpec withCachePrecision(CachePrecision precision) {
        return new ModelSpec(architecture, weights, hyperparameters, backend, cacheBudgetBytes, precision);
    }

    public Architecture architecture() { return architecture; }
    public Path weights() { return weights; }
    public Map<String, Object> hyperparameters() { return hyperparameters; }
    public @Nullable String backend() { return backend; }
    public long cacheBudgetBytes() { return cacheBudgetBytes; }
    public CachePrecision cachePrecision() { return cachePrecision; }

    @Override
    public String toString() {
        return architecture + " " + weights + " " + hyperparameters;
    }
}
