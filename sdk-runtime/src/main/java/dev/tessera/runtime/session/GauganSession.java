package dev.tessera.runtime.session;

import dev.tessera.EditInput;
import dev.tessera.Image;
import dev.tessera.InvalidInputException;
import dev.tessera.LabelMap;
import dev.tessera.ModelSpec;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.models.GauganConfig;
import dev.tessera.runtime.models.SemanticMap;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.tensor.Tensor;
import java.time.Duration;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/** Label-map editing with GauGAN: one cache, sparse passes against the accepted label map. */
final class GauganSession extends BaseSession {
    private final GraphExecutor exec;
    private final SemanticMap.Encoder encoder; // the input of the last map encoded, rewritten where the next differs
    private @Nullable ActivationCache cache;

    GauganSession(LoadedModel model) {
        super(model);
        exec = model.deviceModel.newExecutor(model.planner);
        GauganConfig c = model.gaugan;
        encoder = new SemanticMap.Encoder(c.outputHeight(), c.outputWidth(), c.semanticNc() - 1);
    }

    @Override
    Image runFull(EditInput original, Run run) {
        Tensor input = encode(original);
        model.reserve(this, exec.cacheBytes());
        ActivationCache fresh = exec.newCache(model.spec().cacheBudgetBytes());
        Tensor out;
        try {
            out = exec.full(fresh, (done, total) -> run.step("full pass", done, total), input);
        } catch (RuntimeException e) {
            fresh.close();
            throw e;
        }
        dropCache();
        cache = fresh;
        lastMacs = denseMacs();
        return toImage(out);
    }

    @Override
    Image runEdit(EditInput accepted, EditInput edited, boolean commit, Run run, Map<String, Duration> phases) {
        long t0 = System.nanoTime();
        Tensor input = encode(edited);
        long t1 = System.nanoTime();
        LabelMap a = (LabelMap) accepted, b = (LabelMap) edited;
        // The rule's difference of the two inputs, worked out on the ids (GauGAN's threshold is below 1).
        Mask difference = model.maskRule.dilate(SemanticMap.changed(a.labels(), a.instances(), b.labels(), b.instances(),
                b.height(), b.width()));
        long t2 = System.nanoTime();
        SparsePlan plan = difference.isEmpty() ? SparsePlan.noChange(model.graph)
                : model.planner.plan(new BlockSets(model.maskRule.pyramid(difference)));
        long t3 = System.nanoTime();
        Tensor out = exec.sparse(cache, plan, commit, (done, total) -> run.step("edit", done, total), input);
        phases.put("input", Duration.ofNanos(t1 - t0));
        phases.put("mask", Duration.ofNanos(t2 - t1));
        phases.put("plan", Duration.ofNanos(t3 - t2));
        phases.put("sparse pass", Duration.ofNanos(System.nanoTime() - t3));
        lastMacs = plan.sparseMacs();
        lastFraction = difference.fraction();
        return toImage(out);
    }

    private Tensor encode(EditInput in) {
        GauganConfig c = model.gaugan;
        if (!(in instanceof LabelMap m)) throw new InvalidInputException("GauGAN edits label maps, got " + in.getClass().getSimpleName());
        if (m.width() != c.outputWidth() || m.height() != c.outputHeight()) {
            throw new InvalidInputException("label map is " + m.width() + "x" + m.height() + ", the model takes "
                    + c.outputWidth() + "x" + c.outputHeight());
        }
        return encoder.encode(m.labels(), m.instances());
    }

    static Image toImage(Tensor rgb) {
        return new Image(rgb.shape().w(), rgb.shape().h(), rgb.toArray());
    }

    static ActivationCache.Precision precision(ModelSpec spec) {
        return spec.cachePrecision() == ModelSpec.CachePrecision.FP16 ? ActivationCache.Precision.FP16 : ActivationCache.Precision.FP32;
    }

    @Override
    long denseMacs() {
        return model.graph.macs();
    }

    @Override
    void dropCache() {
        if (cache != null) cache.close();
        cache = null;
    }

    @Override
    void closeExecutor() {
        exec.close();
    }

    @Override
    long cacheBytes() {
        ActivationCache c = cache;
        return c == null ? 0 : c.bytes();
    }
}
