package dev.tessera.runtime.sampling;

import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.tensor.Tensor;

/**
 * SDEdit with DDIM, as the reference's editing runner does it: noise the edited image to the
 * last timestep of {@code timesteps}, denoise step by step, and after each step put back the
 * original's noised pixels outside the edit mask, so only the edited region is regenerated.
 * The original's trajectory is therefore known in advance: {@code noised(original, t)} at every
 * step, which is what the full passes that fill each step's cache run on.
 */
public final class SdEdit {
    /** Predicts the noise in {@code x} at timestep {@code t}, the {@code step}-th denoising step (0 first). */
    public interface Denoiser {
        Tensor predictNoise(Tensor x, int t, int step);
    }

    private final NoiseSchedule schedule;
    private final int[] timesteps;

    /** @param timesteps ascending, e.g. the noise level's uniform steps {@code [0, 100, 200]} */
    public SdEdit(NoiseSchedule schedule, int[] timesteps) {
        this.schedule = schedule;
        this.timesteps = timesteps.clone();
    }

    public int steps() {
        return timesteps.length;
    }

    /** The timestep of denoising step {@code step} (0 is the noisiest). */
    public int timestep(int step) {
        return timesteps[timesteps.length - 1 - step];
    }

    /** The original's sample at denoising step {@code step}: what the full pass of that step sees. */
    public Tensor originalSample(Tensor original, Tensor noise, int step) {
        return Ddim.noised(schedule, original, noise, timestep(step));
    }

    /** Runs the loop on {@code edited}; pixels outside {@code mask} follow the original's trajectory. */
    public Tensor run(Tensor original, Tensor edited, Tensor noise, Mask mask, Denoiser model) {
        Tensor x = Ddim.noised(schedule, edited, noise, timestep(0));
        for (int step = 0; step < timesteps.length; step++) {
            int t = timestep(step), next = step + 1 < timesteps.length ? timestep(step + 1) : -1;
            x = Ddim.step(schedule, x, model.predictNoise(x, t, step), t, next);
            blend(x, Ddim.noised(schedule, original, noise, next), mask);
        }
        return x;
    }

    /** Outside the mask (per pixel, all channels), take {@code outside}. */
    private static void blend(Tensor x, Tensor outside, Mask mask) {
        int plane = mask.height() * mask.width();
        for (int i = 0; i < x.size(); i++) {
            int p = i % plane;
            if (!mask.get(p / mask.width(), p % mask.width())) x.set(i, outside.get(i));
        }
    }
}
