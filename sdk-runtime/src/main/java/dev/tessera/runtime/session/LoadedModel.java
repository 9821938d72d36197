package dev.tessera.runtime.session;

import dev.tessera.EditSession;
import dev.tessera.InvalidInputException;
import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;
import dev.tessera.OverBudgetException;
import dev.tessera.runtime.backend.ComputeBackend;
import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.MaskRule;
import dev.tessera.runtime.models.DdpmConfig;
import dev.tessera.runtime.models.DdpmUnet;
import dev.tessera.runtime.models.Gaugan;
import dev.tessera.runtime.models.GauganConfig;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.SparsePolicy;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A model loaded on a backend: its graph and its weights on the device (shared by all sessions),
 * its sparse planner, and the cache budget its sessions share (least recently used cache dropped first).
 */
final class LoadedModel implements ModelHandle {
    private final ModelSpec spec;
    private final String backend;
    final DeviceModel deviceModel;
    final ModelGraph graph;
    final SparsePlanner planner;
    final MaskRule maskRule;
    final GauganConfig gaugan; // null for diffusion
    final DdpmConfig ddpm; // null for GauGAN
    private final List<BaseSession> sessions = new ArrayList<>(); // least recently used first
    private final ExecutorService async;
    private boolean closed;

    LoadedModel(ModelSpec spec, String backend, ComputeBackend compute) {
        this.spec = spec;
        this.backend = backend;
        Map<String, Object> h = spec.hyperparameters();
        try (SafetensorsFile weights = SafetensorsFile.open(spec.weights())) {
            if (spec.architecture() == ModelSpec.Architecture.GAUGAN) {
                GauganConfig d = GauganConfig.cityscapes();
                gaugan = new GauganConfig(integer(h, "ngf", d.ngf()), integer(h, "semantic_nc", d.semanticNc()),
                        integer(h, "crop_size", d.cropSize()), number(h, "aspect_ratio", d.aspectRatio()),
                        upsamplingLayers(h.getOrDefault("num_upsampling_layers", d.upsamplingLayers())));
                ddpm = null;
                graph = Gaugan.build(gaugan, weights);
                planner = new SparsePlanner(graph, gaugan.sparsePolicy(), 0);
                maskRule = gaugan.maskRule();
            } else {
                DdpmConfig d = DdpmConfig.church256();
                ddpm = new DdpmConfig(integer(h, "image_size", d.resolution()), 3, 3, integer(h, "ch", d.ch()),
                        list(h, "ch_mult", d.chMult()), integer(h, "num_res_blocks", d.numResBlocks()),
                        list(h, "attn_resolutions", d.attnResolutions()));
                gaugan = null;
                graph = DdpmUnet.build(ddpm, weights);
                SparsePolicy policy = ddpm.sparsePolicy(integer(h, "sparse_resolution_threshold", 64));
                planner = new SparsePlanner(graph, policy, 0);
                maskRule = ddpm.maskRule(integer(h, "mask_dilate_radius", 5));
            }
        }
        deviceModel = compute.load(graph, GauganSession.precision(spec));
        async = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "tessera-" + spec.architecture().name().toLowerCase());
            t.setDaemon(true);
            return t;
        });
    }

    @Override
    public ModelSpec spec() {
        return spec;
    }

    @Override
    public String backend() {
        return backend;
    }

    @Override
    public String device() {
        return deviceModel.device();
    }

    @Override
    public synchronized EditSession newSession() {
        if (ddpm != null) return newSession(500, 50, 0);
        return register(new GauganSession(this));
    }

    @Override
    public synchronized EditSession newSession(int noiseLevel, int steps, long seed) {
        if (ddpm == null) throw new InvalidInputException("SDEdit sessions are for diffusion models; " + spec.architecture() + " is not one");
        return register(new DiffusionSession(this, noiseLevel, steps, seed));
    }

    private BaseSession register(BaseSession s) {
        if (closed) throw new IllegalStateException("model is closed");
        sessions.add(s);
        return s;
    }

    ExecutorService async() {
        return async;
    }

    /**
     * Makes room for {@code bytes} more of {@code owner}'s cache: drops the caches of the least
     * recently used other sessions (those not running right now) until it fits.
     *
     * @throws OverBudgetException if it cannot fit even then
     */
    synchronized void reserve(BaseSession owner, long bytes) {
        touch(owner);
        for (BaseSession s : new ArrayList<>(sessions)) {
            if (cacheBytes() - owner.cacheBytes() + bytes <= spec.cacheBudgetBytes()) return;
            if (s != owner) s.tryDropCache();
        }
        long need = cacheBytes() - owner.cacheBytes() + bytes;
        if (need > spec.cacheBudgetBytes()) throw new OverBudgetException("the model's activation caches", need, spec.cacheBudgetBytes());
    }

    synchronized void touch(BaseSession s) {
        if (sessions.remove(s)) sessions.add(s);
    }

    synchronized void unregister(BaseSession s) {
        sessions.remove(s);
    }

    @Override
    public synchronized long cacheBytes() {
        long total = 0;
        for (BaseSession s : sessions) total += s.cacheBytes();
        return total;
    }

    @Override
    public void close() {
        List<BaseSession> open;
        synchronized (this) {
            if (closed) return;
            closed = true;
            open = new ArrayList<>(sessions);
        }
        for (BaseSession s : open) s.close();
        async.shutdownNow();
        deviceModel.close();
    }

    private static int integer(Map<String, Object> h, String key, int fallback) {
        Object v = h.get(key);
        return v == null ? fallback : ((Number) v).intValue();
    }

    private static double number(Map<String, Object> h, String key, double fallback) {
        Object v = h.get(key);
        return v == null ? fallback : ((Number) v).doubleValue();
    }

    @SuppressWarnings("unchecked")
    private static List<Integer> list(Map<String, Object> h, String key, List<Integer> fallback) {
        Object v = h.get(key);
        if (v == null) return fallback;
        if (v instanceof int[] a) {
            List<Integer> out = new ArrayList<>();
            for (int x : a) out.add(x);
            return out;
        }
        return (List<Integer>) v;
    }

    private static int upsamplingLayers(Object v) {
        if (v instanceof Number n) return n.intValue();
        List<String> names = Arrays.asList("normal", "more", "most");
        int i = names.indexOf(String.valueOf(v));
        if (i < 0) throw new InvalidInputException("num_upsampling_layers must be one of " + names + ", got " + v);
        return 5 + i;
    }
}
