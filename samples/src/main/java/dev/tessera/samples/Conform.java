package dev.tessera.samples;

import com.fasterxml.jackson.jr.ob.JSON;
import dev.tessera.runtime.cpu.CpuSparseExecutor;
import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.mask.MaskRule;
import dev.tessera.runtime.models.DdpmConfig;
import dev.tessera.runtime.models.DdpmUnet;
import dev.tessera.runtime.models.Gaugan;
import dev.tessera.runtime.models.GauganConfig;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.SparsePolicy;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code conform <case-dir>}: runs a conformance case in the reference's golden format
 * (weights.safetensors, case.safetensors, meta.json) densely and sparsely on the CPU backend and
 * prints the errors against the reference's outputs. Exit code 0 only if all are within tolerance.
 */
final class Conform {
    static final double TOLERANCE = 1e-4;

    private Conform() {}

    static int run(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: tessera conform <case-dir>");
            return 2;
        }
        Path dir = Path.of(args[0]);
        Map<String, Object> meta = JSON.std.mapFrom(Files.readString(dir.resolve("meta.json")));
        String kind = String.valueOf(meta.get("case"));
        try (SafetensorsFile w = SafetensorsFile.open(dir.resolve("weights.safetensors"));
                SafetensorsFile c = SafetensorsFile.open(dir.resolve("case.safetensors"))) {
            Case k = switch (kind) {
                case "conv" -> convCase(w, c);
                case "gaugan" -> gauganCase(w, c, meta);
                case "ddpm" -> ddpmCase(w, c, meta);
                default -> null;
            };
            if (k == null) {
                System.err.println("conform: case '" + kind + "' is not supported (conv, gaugan, ddpm are)");
                return 2;
            }
            CpuSparseExecutor exec = new CpuSparseExecutor(new SparsePlanner(k.graph, k.policy, 0));
            ActivationCache cache = new ActivationCache(ActivationCache.Precision.FP32, Long.MAX_VALUE);
            boolean ok = report("dense  full_original", c.tensor("full_original"), exec.full(cache, k.inputs(k.original)));
            ok &= report("dense  dense_edited", c.tensor("dense_edited"), exec.dense(k.inputs(k.edited)));
            Tensor sparse = exec.sparse(cache, exec.planner().plan(new BlockSets(k.masks)), k.inputs(k.edited));
            ok &= report("sparse " + k.sparseKey, c.tensor(k.sparseKey), sparse);
            System.out.println(ok ? "PASS" : "FAIL");
            return ok ? 0 : 1;
        }
    }

    /** A case ready to run: graph, policy, masks, inputs (the first one edited), and which output to match. */
    private record Case(ModelGraph graph, SparsePolicy policy, MaskPyramid masks, Tensor original, Tensor edited,
            Tensor[] shared, String sparseKey) {
        Tensor[] inputs(Tensor first) {
            Tensor[] all = new Tensor[shared.length + 1];
            all[0] = first;
            System.arraycopy(shared, 0, all, 1, shared.length);
            return all;
        }
    }

    private static Case convCase(SafetensorsFile w, SafetensorsFile c) {
        Shape in = c.shape("original"), out = c.shape("full_original");
        GraphBuilder g = new GraphBuilder(w);
        Value x = g.input(in);
        ModelGraph graph = g.build("conv", g.conv("example_module.conv", x, out.c(), 3));
        MaskPyramid masks = MaskPyramid.ofMasks(Mask.fromTensor(c.tensor("masks/" + in.h() + "x" + in.w())));
        return new Case(graph, SparsePolicy.of(1), masks, c.tensor("original"), c.tensor("edited"), new Tensor[0], "sparse_edited");
    }

    @SuppressWarnings("unchecked")
    private static Case gauganCase(SafetensorsFile w, SafetensorsFile c, Map<String, Object> meta) {
        Map<String, Object> opt = (Map<String, Object>) meta.get("opt");
        String layers = String.valueOf(opt.get("num_upsampling_layers"));
        GauganConfig config = new GauganConfig(num(opt, "ngf"), num(opt, "semantic_nc"), num(opt, "crop_size"),
                ((Number) opt.get("aspect_ratio")).doubleValue(), layers.equals("normal") ? 5 : layers.equals("more") ? 6 : 7);
        MaskRule rule = new MaskRule(1e-3f, num(opt, "mask_dilate_radius"), config.latentHeight(), config.latentWidth(),
                num(opt, "downsample_dilate_radius"));
        Tensor original = c.tensor("semantics_original"), edited = c.tensor("semantics_edited");
        return new Case(Gaugan.build(config, w), config.sparsePolicy(), checkedPyramid(rule, original, edited, c),
                original, edited, new Tensor[0], "sparse_edited");
    }

    @SuppressWarnings("unchecked")
    private static Case ddpmCase(SafetensorsFile w, SafetensorsFile c, Map<String, Object> meta) {
        Map<String, Object> cfg = (Map<String, Object>) meta.get("config");
        Map<String, Object> model = (Map<String, Object>) cfg.get("model");
        Map<String, Object> data = (Map<String, Object>) cfg.get("data");
        DdpmConfig config = new DdpmConfig(num(data, "image_size"), num(model, "in_ch"), num(model, "out_ch"), num(model, "ch"),
                (List<Integer>) model.get("ch_mult"), num(model, "num_res_blocks"), (List<Integer>) model.get("attn_resolutions"));
        Matcher radius = Pattern.compile("radius=(\\d+)").matcher(String.valueOf(meta.get("difference_mask")));
        MaskRule rule = config.maskRule(radius.find() ? Integer.parseInt(radius.group(1)) : 5);
        Tensor original = c.tensor("xt_original"), edited = c.tensor("xt_edited");
        MaskPyramid masks = checkedPyramid(rule, c.tensor("x0_original"), c.tensor("x0_edited"), c);
        return new Case(DdpmUnet.build(config, w), config.sparsePolicy(num(model, "sparse_resolution_threshold")), masks,
                original, edited, new Tensor[] {c.tensor("timestep")}, "sparse_edited_attnfix");
    }

    /** The pyramid of our difference mask, after checking that mask against the case's. */
    private static MaskPyramid checkedPyramid(MaskRule rule, Tensor original, Tensor edited, SafetensorsFile c) {
        Mask difference = rule.difference(original, edited);
        boolean same = difference.equals(Mask.fromTensor(c.tensor("difference_mask")));
        System.out.printf("difference mask: %.2f%% of pixels, %s the reference's%n", 100 * difference.fraction(),
                same ? "equal to" : "DIFFERENT FROM");
        return rule.pyramid(difference);
    }

    private static boolean report(String label, Tensor expected, Tensor actual) {
        if (!expected.shape().equals(actual.shape())) {
            System.out.printf("%-30s shape %s, reference %s  FAIL%n", label, actual.shape(), expected.shape());
            return false;
        }
        double maxErr = actual.maxAbsDifference(expected), maxRef = expected.maxAbs();
        boolean ok = maxErr <= TOLERANCE * maxRef;
        System.out.printf("%-30s max abs error %.3e, relative %.3e  %s%n", label, maxErr, maxErr / maxRef, ok ? "ok" : "FAIL");
        return ok;
    }

    private static int num(Map<String, Object> m, String key) {
        return ((Number) m.get(key)).intValue();
    }
}
