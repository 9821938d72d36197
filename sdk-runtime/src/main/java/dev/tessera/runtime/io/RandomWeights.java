package dev.tessera.runtime.io;

import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.util.SplittableRandom;

/**
 * Deterministic random parameters for benchmarks and tests: uniform in +-1/sqrt(fan_in), the scale
 * of PyTorch's default initialisation, so activations stay in a realistic range through deep models.
 * Keys ending in {@code running_var} get values in [0.5, 1.5] so that normalisations stay finite.
 */
public final class RandomWeights implements WeightSource {
    private final long seed;

    public RandomWeights(long seed) {
        this.seed = seed;
    }

    @Override
    public Tensor tensor(String key, Shape expected) {
        SplittableRandom random = new SplittableRandom(seed ^ key.hashCode());
        int fanIn = 1;
        for (int i = 1; i < expected.rank(); i++) fanIn *= expected.dim(i);
        double bound = 1.0 / Math.sqrt(fanIn);
        boolean variance = key.endsWith("running_var");
        Tensor t = Tensor.zeros(expected);
        for (int i = 0, n = t.size(); i < n; i++) {
            double v = variance ? 0.5 + random.nextDouble() : random.nextDouble(-bound, bound);
            t.set(i, (float) v);
        }
        return t;
    }
}
