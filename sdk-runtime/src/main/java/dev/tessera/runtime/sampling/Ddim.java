package dev.tessera.runtime.sampling;

import dev.tessera.runtime.tensor.Tensor;

/** Deterministic DDIM (eta 0) and the forward noising it starts from, elementwise in float32. */
public final class Ddim {
    private Ddim() {}

    /** {@code x_t = sqrt(abar_t) x0 + sqrt(1 - abar_t) noise}. */
    public static Tensor noised(NoiseSchedule s, Tensor x0, Tensor noise, int t) {
        float a = s.alphaBar(t), sa = (float) Math.sqrt(a), sb = (float) Math.sqrt(1f - a);
        Tensor out = Tensor.zeros(x0.shape());
        for (int i = 0; i < out.size(); i++) out.set(i, x0.get(i) * sa + noise.get(i) * sb);
        return out;
    }

    /** One step from {@code t} to {@code next} given the predicted noise: x0 estimate, then re-noise to {@code next}. */
    public static Tensor step(NoiseSchedule s, Tensor x, Tensor eps, int t, int next) {
        float at = s.alphaBar(t), an = s.alphaBar(next);
        float sqrtAt = (float) Math.sqrt(at), sqrtOneMinusAt = (float) Math.sqrt(1f - at);
        float sqrtAn = (float) Math.sqrt(an), c2 = (float) Math.sqrt(1f - an);
        Tensor out = Tensor.zeros(x.shape());
        for (int i = 0; i < out.size(); i++) {
            float x0 = (x.get(i) - eps.get(i) * sqrtOneMinusAt) / sqrtAt;
            out.set(i, sqrtAn * x0 + c2 * eps.get(i));
        }
        return out;
    }
}
