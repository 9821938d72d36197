package dev.tessera.runtime.session;

import dev.tessera.EditInput;
import dev.tessera.Image;
import dev.tessera.InvalidInputException;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.sampling.NoiseSchedule;
import dev.tessera.runtime.sampling.SdEdit;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.time.Duration;
import java.util.Map;
import java.util.Random;
import org.jspecify.annotations.Nullable;

/**
 * SDEdit with a DDPM UNet: {@link #runFull} follows the original's noised trajectory and keeps one
 * cache per denoising step; an edit re-runs the DDIM loop with sparse passes against each step's
 * cache, keeping the accepted trajectory outside the edit mask.
 */
final class DiffusionSession extends BaseSession {
    private final GraphExecutor exec;
    private final SdEdit sdedit;
    private final Tensor noise;
    private ActivationCache @Nullable [] caches;
    private Tensor[] baseline; // accepted trajectory after each step (blended outside edit masks)

    DiffusionSession(LoadedModel model, int noiseLevel, int steps, long seed) {
        super(model);
        if (steps < 2 || noiseLevel < steps - 1 || noiseLevel >= 1000) {
            throw new InvalidInputException("SDEdit needs 2 <= steps <= noise level + 1 and noise level < 1000, got "
                    + steps + " steps at noise level " + noiseLevel);
        }
        int[] timesteps = new int[steps];
        for (int i = 0; i < steps; i++) timesteps[i] = (int) Math.round((double) i * noiseLevel / (steps - 1));
        this.sdedit = new SdEdit(NoiseSchedule.ddpmDefault(), timesteps);
        this.exec = model.deviceModel.newExecutor(model.planner);
        int r = model.ddpm.resolution();
        this.noise = Tensor.zeros(Shape.nchw(1, 3, r, r));
        Random random = new Random(seed);
        for (int i = 0; i < noise.size(); i++) noise.set(i, (float) random.nextGaussian());
        this.baseline = new Tensor[steps];
    }

    @Override
    Image runFull(EditInput original, Run run) {
        Tensor x0 = encode(original);
        model.reserve(this, sdedit.steps() * exec.cacheBytes());
        ActivationCache[] fresh = new ActivationCache[sdedit.steps()];
        Tensor[] trajectory = new Tensor[sdedit.steps()];
        try {
            for (int step = 0; step < sdedit.steps(); step++) {
                fresh[step] = exec.newCache(model.spec().cacheBudgetBytes());
                exec.full(fresh[step], null, sdedit.originalSample(x0, noise, step), timestep(sdedit.timestep(step)));
                trajectory[step] = sdedit.originalSample(x0, noise, step + 1);
                run.step("full pass", step + 1, sdedit.steps());
            }
        } catch (RuntimeException e) {
            close(fresh);
            throw e;
        }
        dropCache();
        caches = fresh;
        baseline = trajectory;
        lastMacs = denseMacs();
        return GauganSession.toImage(x0);
    }

    @Override
    Image runEdit(EditInput accepted, EditInput edited, boolean commit, Run run, Map<String, Duration> phases) {
        Tensor base = encode(accepted), x0 = encode(edited);
        long t0 = System.nanoTime();
        Mask difference = model.maskRule.difference(base, x0);
        lastFraction = difference.fraction();
        if (difference.isEmpty()) {
            lastMacs = 0;
            return GauganSession.toImage(baseline[baseline.length - 1]);
        }
        SparsePlan plan = model.planner.plan(new BlockSets(model.maskRule.pyramid(difference)));
        long t1 = System.nanoTime();
        ActivationCache[] stepCaches = caches;
        Tensor[] next = new Tensor[baseline.length];
        Tensor out = sdedit.run(sdedit.start(x0, noise), step -> baseline[step], difference,
                (x, t, step) -> {
                    Tensor eps = exec.sparse(stepCaches[step], plan, commit, null, x, timestep(t));
                    run.step("edit", step + 1, sdedit.steps());
                    return eps;
                }, (step, sample) -> next[step] = sample);
        if (commit) baseline = next;
        phases.put("mask and plan", Duration.ofNanos(t1 - t0));
        phases.put("sparse passes", Duration.ofNanos(System.nanoTime() - t1));
        lastMacs = plan.sparseMacs() * sdedit.steps();
        return GauganSession.toImage(out);
    }

    private Tensor encode(EditInput in) {
        int r = model.ddpm.resolution();
        if (!(in instanceof Image img)) throw new InvalidInputException("diffusion models edit images, got " + in.getClass().getSimpleName());
        if (img.width() != r || img.height() != r) {
            throw new InvalidInputException("image is " + img.width() + "x" + img.height() + ", the model takes " + r + "x" + r);
        }
        return Tensor.of(Shape.nchw(1, 3, r, r), img.rgb());
    }

    private static Tensor timestep(int t) {
        return Tensor.of(Shape.of(1), new float[] {t});
    }

    @Override
    long denseMacs() {
        return model.graph.macs() * sdedit.steps();
    }

    @Override
    void dropCache() {
        if (caches != null) close(caches);
        caches = null;
    }

    private static void close(ActivationCache[] caches) {
        for (ActivationCache c : caches) if (c != null) c.close();
    }

    @Override
    void closeExecutor() {
        exec.close();
    }

    @Override
    long cacheBytes() {
        ActivationCache[] c = caches;
        if (c == null) return 0;
        long total = 0;
        for (ActivationCache a : c) total += a.bytes();
        return total;
    }
}
