package dev.tessera.runtime.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.runtime.Golden;
import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.models.DdpmUnet;
import dev.tessera.runtime.models.Gaugan;
import dev.tessera.runtime.models.ModelsForTests;
import dev.tessera.runtime.sampling.NoiseSchedule;
import dev.tessera.runtime.sampling.SdEdit;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.SparsePolicy;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

/**
 * The golden cases (testdata/golden) on one backend: dense outputs against the reference's dense
 * outputs, sparse against its sparse outputs, the 3-step DDIM SDEdit loop, and consecutive edits
 * with cache updates. Each backend's test extends this with its {@link ComputeBackend}, precision
 * and tolerance (relative to max |reference|).
 */
public abstract class BackendConformance {
    protected abstract ComputeBackend backend();

    protected ActivationCache.Precision precision() {
        return ActivationCache.Precision.FP32;
    }

    protected double tolerance() {
        return Golden.RELATIVE_TOLERANCE;
    }

    private void check(String label, Tensor expected, Tensor actual) {
        Golden.assertMatches(getClass().getSimpleName() + " " + label, expected, actual, tolerance());
    }

    @Test
    void conv() {
        try (SafetensorsFile w = Golden.weights("conv"); SafetensorsFile c = Golden.tensors("conv")) {
            GraphBuilder g = new GraphBuilder(w);
            Value x = g.input(Shape.nchw(1, 16, 64, 64));
            ModelGraph graph = g.build("conv", g.conv("example_module.conv", x, 32, 3));
            SparsePlanner planner = new SparsePlanner(graph, SparsePolicy.of(1), 0);
            MaskPyramid masks = MaskPyramid.ofMasks(Mask.fromTensor(c.tensor("masks/64x64")));
            try (DeviceModel model = backend().load(graph, precision()); GraphExecutor exec = model.newExecutor(planner)) {
                check("conv full_original", c.tensor("full_original"), exec.dense(c.tensor("original")));
                check("conv dense_edited", c.tensor("dense_edited"), exec.dense(c.tensor("edited")));
                check("conv sparse_edited", c.tensor("sparse_edited"), editOnce(exec, planner, masks, c.tensor("original"), c.tensor("edited")));
            }
        }
    }

    @Test
    void gaugan() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            ModelGraph graph = Gaugan.build(ModelsForTests.GOLDEN_GAUGAN, w);
            SparsePlanner planner = new SparsePlanner(graph, SparsePolicy.of(8, "fc", "conv_img"), 0);
            MaskPyramid masks = MaskPyramid.of(Mask.fromTensor(c.tensor("difference_mask")), 2, 4, 2);
            try (DeviceModel model = backend().load(graph, precision()); GraphExecutor exec = model.newExecutor(planner)) {
                check("gaugan full_original", c.tensor("full_original"), exec.dense(c.tensor("semantics_original")));
                check("gaugan dense_edited", c.tensor("dense_edited"), exec.dense(c.tensor("semantics_edited")));
                check("gaugan sparse_edited", c.tensor("sparse_edited"),
                        editOnce(exec, planner, masks, c.tensor("semantics_original"), c.tensor("semantics_edited")));
            }
        }
    }

    @Test
    void ddpmWithPerChannelAttentionNorm() {
        try (SafetensorsFile w = Golden.weights("ddpm"); SafetensorsFile c = Golden.tensors("ddpm")) {
            SparsePlanner planner = ModelsForTests.goldenDdpmPlanner(w);
            ModelGraph graph = planner.graph();
            MaskPyramid masks = Golden.ddpmMasks(c);
            Tensor t = c.tensor("timestep");
            try (DeviceModel model = backend().load(graph, precision()); GraphExecutor exec = model.newExecutor(planner)) {
                check("ddpm full_original", c.tensor("full_original"), exec.dense(c.tensor("xt_original"), t));
                check("ddpm dense_edited", c.tensor("dense_edited"), exec.dense(c.tensor("xt_edited"), t));
                check("ddpm sparse_edited_attnfix", c.tensor("sparse_edited_attnfix"),
                        editOnce(exec, planner, masks, c.tensor("xt_original"), c.tensor("xt_edited"), t));
            }
        }
    }

    /** The golden 3-step DDIM SDEdit case: its UNet's planner, inputs, mask and plan. */
    private record SdEditCase(SparsePlanner planner, Tensor original, Tensor edited, Tensor noise, Mask mask, SdEdit sdedit,
            SparsePlan plan) {
        static SdEditCase load(SafetensorsFile w, SafetensorsFile c) {
            SparsePlanner planner = new SparsePlanner(DdpmUnet.build(ModelsForTests.GOLDEN_DDPM, w), ModelsForTests.GOLDEN_DDPM.sparsePolicy(32), 0);
            Mask mask = Mask.fromTensor(c.tensor("difference_mask"));
            return new SdEditCase(planner, c.tensor("x0_original"), c.tensor("x0_edited"), c.tensor("noise"), mask,
                    new SdEdit(NoiseSchedule.ddpmDefault(), new int[] {0, 100, 200}),
                    planner.plan(new BlockSets(ModelsForTests.GOLDEN_DDPM.maskRule(2).pyramid(mask))));
        }

        Tensor run(SdEdit.Denoiser denoiser) {
            return sdedit.run(original, edited, noise, mask, denoiser);
        }
    }

    @Test
    void ddimSdEditLoop() {
        try (SafetensorsFile w = Golden.weights("ddpm"); SafetensorsFile c = Golden.tensors("ddpm")) {
            SdEditCase k = SdEditCase.load(w, c);
            try (DeviceModel model = backend().load(k.planner().graph(), precision()); GraphExecutor exec = model.newExecutor(k.planner())) {
                Tensor dense = k.run((x, t, step) -> exec.dense(x, timestep(t)));
                check("ddim_final_dense", c.tensor("ddim_final_dense"), dense);
                Tensor sparse = k.run((x, t, step) -> {
                    try (ActivationCache cache = exec.newCache(Long.MAX_VALUE)) {
                        exec.full(cache, null, k.sdedit().originalSample(k.original(), k.noise(), step), timestep(t));
                        return exec.sparse(cache, k.plan(), false, null, x, timestep(t));
                    }
                });
                check("ddim_final_sparse_attnfix", c.tensor("ddim_final_sparse_attnfix"), sparse);
            }
        }
    }

    /**
     * The SDEdit loop as a session runs it: every step's cache filled first and kept, then one plan
     * against each of them, twice. A GPU backend may read the caches through copies and replay one
     * recording of the plan for every step; the second loop must agree with the first bit for bit.
     */
    @Test
    void sdEditAgainstLiveCaches() {
        try (SafetensorsFile w = Golden.weights("ddpm"); SafetensorsFile c = Golden.tensors("ddpm")) {
            SdEditCase k = SdEditCase.load(w, c);
            ActivationCache[] caches = new ActivationCache[k.sdedit().steps()];
            try (DeviceModel model = backend().load(k.planner().graph(), precision()); GraphExecutor exec = model.newExecutor(k.planner())) {
                for (int step = 0; step < caches.length; step++) {
                    caches[step] = exec.newCache(Long.MAX_VALUE);
                    exec.full(caches[step], null, k.sdedit().originalSample(k.original(), k.noise(), step), timestep(k.sdedit().timestep(step)));
                }
                float[][] loops = new float[2][];
                for (int loop = 0; loop < loops.length; loop++) {
                    Tensor sparse = k.run((x, t, step) -> exec.sparse(caches[step], k.plan(), false, null, x, timestep(t)));
                    check("ddim_final_sparse_attnfix (live caches, loop " + loop + ")", c.tensor("ddim_final_sparse_attnfix"), sparse);
                    loops[loop] = sparse.toArray();
                }
                assertArrayEquals(loops[0], loops[1], "the second loop");
            } finally {
                for (ActivationCache cache : caches) if (cache != null) cache.close();
            }
        }
    }

    /**
     * A sequence as a session runs it on one executor and cache: repeated passes (which a GPU
     * backend captures and replays) give the same output bit for bit; accepted edits update the
     * cache, so an edit back to the original then reproduces the original's output.
     */
    @Test
    void repeatedPassesAndAcceptedEdits() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            SparsePlanner planner = ModelsForTests.goldenGauganPlanner(w);
            ModelGraph graph = planner.graph();
            Tensor original = c.tensor("semantics_original"), edited = c.tensor("semantics_edited");
            try (DeviceModel model = backend().load(graph, precision()); GraphExecutor exec = model.newExecutor(planner);
                    ActivationCache cache = exec.newCache(Long.MAX_VALUE)) {
                exec.full(cache, null, original);
                assertEquals(exec.cacheBytes(), cache.bytes());
                SparsePlan plan = ModelsForTests.goldenGauganPlan(planner, original, edited);
                float[] first = exec.sparse(cache, plan, false, null, edited).toArray();
                for (int i = 0; i < 3; i++) assertArrayEquals(first, exec.sparse(cache, plan, false, null, edited).toArray(), "sparse run " + i);
                float[] dense = exec.dense(edited).toArray();
                for (int i = 0; i < 3; i++) assertArrayEquals(dense, exec.dense(edited).toArray(), "dense run " + i);
                check("gaugan repeated sparse", c.tensor("sparse_edited"), exec.sparse(cache, plan, false, null, edited));

                check("gaugan sparse (accepted)", c.tensor("sparse_edited"), exec.sparse(cache, plan, true, null, edited));
                check("gaugan back to original", c.tensor("full_original"), exec.sparse(cache, ModelsForTests.goldenGauganPlan(planner, edited, original), true, null, original));
                check("gaugan no change", c.tensor("full_original"), exec.sparse(cache, SparsePlan.noChange(graph), false, null, original));
            }
        }
    }

    /** Full pass on the original, then one sparse pass on the edit; extra inputs are shared by both. */
    private static Tensor editOnce(GraphExecutor exec, SparsePlanner planner, MaskPyramid masks, Tensor original, Tensor edited,
            Tensor... shared) {
        try (ActivationCache cache = exec.newCache(Long.MAX_VALUE)) {
            exec.full(cache, null, concat(original, shared));
            return exec.sparse(cache, planner.plan(new BlockSets(masks)), false, null, concat(edited, shared));
        }
    }

    private static Tensor[] concat(Tensor first, Tensor[] rest) {
        Tensor[] all = new Tensor[rest.length + 1];
        all[0] = first;
        System.arraycopy(rest, 0, all, 1, rest.length);
        return all;
    }

    private static Tensor timestep(int t) {
        return Tensor.of(Shape.of(1), new float[] {t});
    }
}
