package dev.tessera.runtime.sampling;

import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.tensor.Tensor;
import org.jspecify.annotations.Nullable;

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

    /**
     * The original's sample at denoising step {@code step}: what the full pass of that step sees;
     * {@code step == steps()} is the clean original.
     */
    public Tensor originalSample(Tensor original, Tensor noise, int step) {
        return Ddim.noised(schedule, original, noise, step < timesteps.length ? timestep(step) : -1);
    }

    /** Runs the loop on {@code edited}; pixels outside {@code mask} follow the original's trajectory. */
    public Tensor run(Tensor original, Tensor edited, Tensor noise, Mask mask, Denoiser model) {
        return run(start(edited, noise), step -> originalSample(original, noise, step + 1), mask, model, null);
    }

    /** The edited image noised to the first step's timestep. */
    public Tensor start(Tensor edited, Tensor noise) {
        return Ddim.noised(schedule, edited, noise, timestep(0));
    }

    /**
     * The loop from {@code x}: after step {@code k}, pixels outside {@code mask} are set to
     * {@code baseline.sample(k)} (the baseline trajectory's sample after that step; the original's
     * noised image at the next timestep, or the clean original after the last). {@code afterStep}
     * (if not null) receives each step's blended sample.
     */
    public Tensor run(Tensor x, Baseline baseline, Mask mask, Denoiser model, @Nullable StepSink afterStep) {
        for (int step = 0; step < timesteps.length; step++) {
            int t = timestep(step), next = step + 1 < timesteps.length ? timestep(step + 1) : -1;
            x = Ddim.step(schedule, x, model.predictNoise(x, t, step), t, next);
            blend(x, baseline.sample(step), mask);
            if (afterStep != null) afterStep.accept(step, x);
        }
        return x;
    }

    /** The trajectory kept outside the edit mask. */
    public interface Baseline {
        Tensor sample(int step);
    }

    /** Receives the blended sample after each step. */
    public interface StepSink {
        void accept(int step, Tensor sample);
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
