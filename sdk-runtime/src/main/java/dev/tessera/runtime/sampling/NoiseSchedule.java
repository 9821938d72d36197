package dev.tessera.runtime.sampling;

/**
 * A DDPM noise schedule: betas over {@code steps} timesteps and the cumulative products
 * {@code alphaBar(t) = prod_{s<=t} (1 - beta_s)}, in float32 as the reference computes them
 * (betas from a float64 linspace, then float32). {@code alphaBar(-1) = 1}: the clean image.
 */
public final class NoiseSchedule {
    private final float[] alphaBar;

    private NoiseSchedule(float[] betas) {
        alphaBar = new float[betas.length];
        float product = 1f;
        for (int t = 0; t < betas.length; t++) {
            product *= 1f - betas[t];
            alphaBar[t] = product;
        }
    }

    /** Linear betas from {@code start} to {@code end}: the reference's church config is (1e-4, 0.02, 1000). */
    public static NoiseSchedule linear(double start, double end, int steps) {
        float[] betas = new float[steps];
        for (int i = 0; i < steps; i++) betas[i] = (float) (start + (end - start) * i / (steps - 1));
        return new NoiseSchedule(betas);
    }

    public static NoiseSchedule ddpmDefault() {
        return linear(1e-4, 0.02, 1000);
    }

    public int steps() {
        return alphaBar.length;
    }

    public float alphaBar(int t) {
        if (t < -1 || t >= alphaBar.length) throw new IllegalArgumentException("timestep " + t + " outside [-1, " + alphaBar.length + ")");
        return t < 0 ? 1f : alphaBar[t];
    }

    /** The reference's uniform skip: {@code count} timesteps 0, k, 2k, ... with k = steps / count. */
    public int[] uniformTimesteps(int count) {
        int skip = alphaBar.length / count;
        int[] seq = new int[count];
        for (int i = 0; i < count; i++) seq[i] = i * skip;
        return seq;
    }
}
