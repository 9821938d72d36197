package dev.tessera.samples;

import dev.tessera.runtime.backend.ComputeBackend;
import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.backend.StepProfile;
import dev.tessera.runtime.cpu.Blas;
import dev.tessera.runtime.cpu.CpuExecutor;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.io.RandomWeights;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.mask.MaskRule;
import dev.tessera.runtime.models.DdpmConfig;
import dev.tessera.runtime.models.DdpmUnet;
import dev.tessera.runtime.models.Gaugan;
import dev.tessera.runtime.models.GauganConfig;
import dev.tessera.runtime.models.SemanticMap;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.SparsePolicy;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import dev.tessera.spi.Backends;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Latency of the full-size models with random weights: dense and sparse at several edit sizes
 * (beside the dense pass and the MAC ratio). Medians after warm-up; timed in-process around each
 * pass (a pass ends when its output is on the host). On the CPU, also OpenBLAS SGEMM throughput
 * and time per op and per sparse step kind.
 *
 * <pre>bench [--backend cpu|cuda|...] [--precision fp32|fp16] [--model gaugan|ddpm|all] [--runs N]
 *       [--warmup N] [--threads N] [--dense-only] [--fractions 0.012,0.05,0.2] [--dump-masks DIR] [--drag N]</pre>
 *
 * <p>{@code --drag N} also times a brush drag: N strokes, each a new edit that extends the last,
 * up to the first fraction. That is what a user painting waits for: every stroke is a new mask
 * and a new plan, so each pass is that plan's first (no replayed graph). {@code --sdedit STEPS} times
 * what a DDPM SDEdit edit asks of the executor: one plan run against each denoising step's cache.
 */
final class Bench {
    private final int runs, warmup;
    private final ComputeBackend backend;
    private final ActivationCache.Precision precision;

    private Bench(int runs, int warmup, ComputeBackend backend, ActivationCache.Precision precision) {
        this.runs = runs;
        this.warmup = warmup;
        this.backend = backend;
        this.precision = precision;
    }

    private boolean onCpu() {
        return backend instanceof dev.tessera.runtime.cpu.CpuBackendProvider;
    }

    static void run(String[] args) throws IOException {
        ComputeBackend backend = (ComputeBackend) Backends.choose(stringOption(args, "--backend", "cpu"));
        ActivationCache.Precision precision = ActivationCache.Precision.valueOf(stringOption(args, "--precision", "fp32").toUpperCase());
        Bench b = new Bench(intOption(args, "--runs", 5), intOption(args, "--warmup", 2), backend, precision);
        int threads = intOption(args, "--threads", Runtime.getRuntime().availableProcessors());
        String model = stringOption(args, "--model", "all");
        boolean denseOnly = Arrays.asList(args).contains("--dense-only");
        double[] fractions = Arrays.stream(stringOption(args, "--fractions", "0.012,0.05,0.2").split(","))
                .mapToDouble(Double::parseDouble).toArray();
        String dump = stringOption(args, "--dump-masks", "");
        int drag = intOption(args, "--drag", 0), sdedit = intOption(args, "--sdedit", 0);
        System.out.printf("backend %s (%s), %s, warm-up %d, runs %d, medians%n", ((dev.tessera.spi.BackendProvider) backend).name(),
                ((dev.tessera.spi.BackendProvider) backend).devices().get(0).name(), precision, b.warmup, b.runs);
        double sgemm = 0;
        if (b.onCpu()) {
            Blas.setThreads(threads);
            System.out.printf("threads %d (OpenBLAS %d)%n", threads, Blas.threads());
            sgemm = sgemmGflops();
            System.out.printf("OpenBLAS SGEMM 1024x4096x1152: %.1f GFLOP/s%n", sgemm);
        }

        if (model.equals("all") || model.equals("gaugan")) {
            GauganConfig c = GauganConfig.cityscapes();
            ModelGraph g = Gaugan.build(c, new RandomWeights(0));
            Shape in = g.inputs().get(0).shape();
            int[] labels = randomLabels(in.h(), in.w(), in.c() - 1), instances = new int[labels.length]; // one instance: no edges
            Tensor original = SemanticMap.of(labels, instances, in.h(), in.w(), in.c() - 1);
            b.dense("GauGAN Cityscapes " + c.outputWidth() + "x" + c.outputHeight(), g, sgemm, original);
            Function<Mask, int[]> paint = stroke -> {
                int[] edited = labels.clone();
                for (int i = 0; i < edited.length; i++) if (stroke.get(i / in.w(), i % in.w())) edited[i] = 21;
                return edited;
            };
            if (!denseOnly) {
                for (double f : fractions) {
                    int[] edited = paint.apply(Strokes.paint(in.h(), in.w(), f, c.maskRule().dilation(), 11));
                    b.sparse("gaugan", g, c.sparsePolicy(), c.maskRule(), new Tensor[] {original},
                            new Tensor[] {SemanticMap.of(edited, instances, in.h(), in.w(), in.c() - 1)}, dump);
                }
            }
            if (drag > 0) { // as GauganSession edits: the input rewritten where it changes, the mask from the ids
                SemanticMap.Encoder encoder = new SemanticMap.Encoder(in.h(), in.w(), in.c() - 1);
                encoder.encode(labels, instances);
                b.drag("gaugan", g, c.sparsePolicy(), new Tensor[] {original}, new EditPath<>(paint,
                        edited -> new Tensor[] {encoder.encode(edited, instances)},
                        edited -> c.maskRule().dilate(SemanticMap.changed(labels, instances, edited, instances, in.h(), in.w()))),
                        c.maskRule(), fractions[0], drag, in, 11);
            }
        }
        if (model.equals("all") || model.equals("ddpm")) {
            DdpmConfig c = DdpmConfig.church256();
            ModelGraph g = DdpmUnet.build(c, new RandomWeights(0));
            Shape in = g.inputs().get(0).shape();
            Tensor t = Tensor.of(Shape.of(1), new float[] {500f});
            Tensor original = smoothImage(in);
            b.dense("DDPM church-256 (one UNet step)", g, sgemm, original, t);
            MaskRule rule = c.maskRule(5);
            Function<Mask, Tensor> paint = stroke -> {
                Tensor edited = original.copy();
                int plane = in.h() * in.w();
                for (int i = 0; i < plane; i++) {
                    if (stroke.get(i / in.w(), i % in.w())) for (int ch = 0; ch < 3; ch++) edited.set(ch * plane + i, 0.7f - 0.6f * ch);
                }
                return edited;
            };
            if (!denseOnly) {
                for (double f : fractions) {
                    b.sparse("ddpm", g, c.sparsePolicy(64), rule, new Tensor[] {original, t},
                            new Tensor[] {paint.apply(Strokes.paint(in.h(), in.w(), f, rule.dilation(), 12)), t}, dump);
                }
            }
            if (sdedit > 0) b.sdedit(g, c.sparsePolicy(64), rule, original, paint, sdedit, fractions[0], in);
            if (drag > 0) {
                b.drag("ddpm", g, c.sparsePolicy(64), new Tensor[] {original, t}, new EditPath<>(paint, edited -> new Tensor[] {edited, t},
                        edited -> rule.difference(original, edited)), rule, fractions[0], drag, in, 12);
            }
        }
    }

    private void dense(String label, ModelGraph graph, double sgemmGflops, Tensor... inputs) {
        if (!onCpu()) {
            try (DeviceModel model = backend.load(graph, precision);
                    GraphExecutor exec = model.newExecutor(new SparsePlanner(graph, SparsePolicy.of(Integer.MAX_VALUE), 0))) {
                warmUp(() -> exec.dense(inputs));
                model.resetPeakMemory();
                double median = median(() -> exec.dense(inputs));
                long peak = model.peakMemoryBytes();
                exec.profile().setEnabled(true);
                exec.dense(inputs);
                exec.profile().setEnabled(false);
                double profiled = exec.profile().nanosByKind().values().stream().mapToLong(Long::longValue).sum() / 1e9;
                System.out.printf("  one profiled dense pass: %.2f ms%n", profiled * 1e3);
                exec.profile().nanosByKind().entrySet().stream().sorted(Map.Entry.comparingByValue(java.util.Comparator.reverseOrder())).limit(25)
                        .forEach(e -> System.out.printf("  %-60s %7.3f ms%n", e.getKey(), e.getValue() / 1e6));
                exec.profile().reset();
                System.out.printf("%s dense: median %.2f ms, %.2f GMACs, %.1f TFLOP/s overall, peak device memory %.0f MiB%n",
                        label, median * 1e3, graph.macs() / 1e9, 2.0 * graph.macs() / median / 1e12, peak / 1048576.0);
            }
            return;
        }
        CpuExecutor exec = new CpuExecutor(graph);
        for (int i = 0; i < warmup; i++) exec.run(inputs);
        exec.profile().setEnabled(true);
        double median = median(() -> exec.run(inputs));
        long macs = graph.macs();
        long convMacs = graph.nodes().stream().filter(n -> n.op() instanceof Op.Conv2d).mapToLong(n -> n.macs()).sum();
        Map<String, Long> nanos = new java.util.TreeMap<>(exec.profile().nanosByKind());
        double convSeconds = graph.nodes().stream().filter(n -> n.op() instanceof Op.Conv2d).map(StepProfile::key).distinct()
                .mapToLong(k -> nanos.getOrDefault(k, 0L)).sum() / 1e9 / runs;
        double convGflops = 2.0 * convMacs / convSeconds / 1e9;
        System.out.printf("%s dense: median %.3f s, %.2f GMACs, %.1f GFLOP/s overall%n", label, median, macs / 1e9,
                2.0 * macs / median / 1e9);
        System.out.printf("  convolutions: %.3f s/run, %.1f GFLOP/s = %.0f%% of SGEMM%n", convSeconds, convGflops,
                100 * convGflops / sgemmGflops);
        nanos.forEach((op, ns) -> System.out.printf("  %-18s %8.1f ms/run%n", op, ns / 1e6 / runs));
    }

    private void sparse(String model, ModelGraph graph, SparsePolicy policy, MaskRule rule, Tensor[] original,
            Tensor[] edited, String dumpDir) throws IOException {
        Mask difference = rule.difference(original[0], edited[0]);
        if (!dumpDir.isEmpty()) {
            writeNpy(difference, Path.of(dumpDir, String.format("%s_%.4f.npy", model, difference.fraction())));
        }
        SparsePlanner planner = new SparsePlanner(graph, policy, 0);
        try (DeviceModel device = backend.load(graph, precision); GraphExecutor exec = device.newExecutor(planner);
                ActivationCache cache = exec.newCache(Long.MAX_VALUE)) {
            long fullStart = System.nanoTime(); // the model's first pass: what the backend prepares for the model, then the pass
            exec.full(cache, null, original);
            double full = (System.nanoTime() - fullStart) / 1e9;
            long planStart = System.nanoTime();
            SparsePlan plan = planner.plan(new BlockSets(rule.pyramid(difference)));
            double planMs = (System.nanoTime() - planStart) / 1e6;
            warmUp(() -> exec.dense(edited));
            double dense = median(() -> exec.dense(edited));
            long firstStart = System.nanoTime(); // a new edit's first pass: what the backend prepares for it, then the pass
            exec.sparse(cache, plan, false, null, edited);
            double first = (System.nanoTime() - firstStart) / 1e9;
            if (!onCpu()) warmUp(() -> exec.dense(edited)); // the first sparse pass may have left the GPU idle
            for (int i = 1; i < warmup; i++) exec.sparse(cache, plan, false, null, edited);
            device.resetPeakMemory();
            double sparse = median(() -> exec.sparse(cache, plan, false, null, edited));
            long peak = device.peakMemoryBytes();
            exec.profile().setEnabled(true);
            exec.sparse(cache, plan, false, null, edited);
            exec.profile().setEnabled(false);
            double profiled = exec.profile().nanosByKind().values().stream().mapToLong(Long::longValue).sum() / 1e9;
            double macRatio = (double) plan.denseMacs() / plan.sparseMacs();
            double speedup = dense / sparse;
            System.out.printf("%s edit %.2f%%: dense %.2f ms, sparse %.2f ms, speedup %.2fx, MACs %.2f -> %.2f G (ratio %.2fx),"
                    + " speedup/MAC ratio %.2f, first full pass %.1f ms, plan %.1f ms, first sparse pass %.1f ms, cache %.0f MB%s%n", model,
                    100 * difference.fraction(), dense * 1e3, sparse * 1e3, speedup, plan.denseMacs() / 1e9, plan.sparseMacs() / 1e9,
                    macRatio, speedup / macRatio, full * 1e3, planMs, first * 1e3, cache.bytes() / 1e6,
                    peak > 0 ? String.format(", peak device memory %.0f MiB", peak / 1048576.0) : "");
            Map<String, Long> steps = exec.profile().nanosByKind();
            System.out.printf("  one profiled pass (each step timed on its own): %.2f ms%n", profiled * 1e3);
            steps.entrySet().stream().sorted(Map.Entry.comparingByValue(java.util.Comparator.reverseOrder())).limit(25).forEach(e ->
                    System.out.printf("  %-60s %5.1f%% %7.3f ms%n", e.getKey(), 1e-7 * e.getValue() / profiled, e.getValue() / 1e6));
            exec.profile().reset();
        }
    }

    /**
     * What a session does with a painted stroke: the edited state ({@code paint}, the user's part,
     * not timed), the pass's inputs from it, and its difference mask against the original.
     */
    private record EditPath<S>(Function<Mask, S> paint, Function<S, Tensor[]> inputs, Function<S, Mask> difference) {}

    /**
     * A brush drag: {@code strokes} new edits, the k-th painting the walk of seed {@code seed} up to
     * k/strokes of {@code fraction}, after one drag of another seed that leaves the backend's first-use
     * work (kernel loading, conv timings per tile count, JIT) behind. Per stroke, the wall time of what
     * a session does: the inputs, the difference mask, the mask pyramid and plan, and the pass.
     */
    private <S> void drag(String model, ModelGraph graph, SparsePolicy policy, Tensor[] original, EditPath<S> edit, MaskRule rule,
            double fraction, int strokes, Shape in, long seed) {
        SparsePlanner planner = new SparsePlanner(graph, policy, 0);
        try (DeviceModel device = backend.load(graph, precision); GraphExecutor exec = device.newExecutor(planner);
                ActivationCache cache = exec.newCache(Long.MAX_VALUE)) {
            exec.full(cache, null, original);
            double[][] ms = new double[5][strokes]; // inputs, mask, plan, pass, total
            for (long s : new long[] {seed + 100, seed}) { // the first drag warms up
                if (!onCpu()) warmUp(() -> exec.dense(original));
                for (int k = 0; k < strokes; k++) {
                    S edited = edit.paint().apply(Strokes.paint(in.h(), in.w(), fraction * (k + 1) / strokes, rule.dilation(), s));
                    long t0 = System.nanoTime();
                    Tensor[] inputs = edit.inputs().apply(edited);
                    long t1 = System.nanoTime();
                    Mask difference = edit.difference().apply(edited);
                    long t2 = System.nanoTime();
                    SparsePlan plan = planner.plan(new BlockSets(rule.pyramid(difference)));
                    long t3 = System.nanoTime();
                    exec.sparse(cache, plan, false, null, inputs);
                    long t4 = System.nanoTime();
                    long[] t = {t0, t1, t2, t3, t4};
                    for (int p = 0; p < 4; p++) ms[p][k] = (t[p + 1] - t[p]) / 1e6;
                    ms[4][k] = (t4 - t0) / 1e6;
                }
            }
            double last = ms[4][strokes - 1];
            for (double[] phase : ms) Arrays.sort(phase);
            System.out.printf("%s drag of %d strokes to %.2f%%, medians: inputs %.2f ms, mask %.2f ms, plan %.2f ms, pass %.2f ms;"
                    + " total %.2f ms (min %.2f, max %.2f; last stroke %.2f)%n", model, strokes, 100 * fraction, ms[0][strokes / 2],
                    ms[1][strokes / 2], ms[2][strokes / 2], ms[3][strokes / 2], ms[4][strokes / 2], ms[4][0], ms[4][strokes - 1], last);
        }
    }

    /**
     * An SDEdit edit as {@code DiffusionSession} runs it: the full passes fill one cache per step
     * (timesteps spread over [0, 500]), then each edit makes one mask and plan and runs it against
     * every step's cache. Two edits of different strokes, the first to warm up; wall times.
     */
    private void sdedit(ModelGraph graph, SparsePolicy policy, MaskRule rule, Tensor image, Function<Mask, Tensor> paint, int steps,
            double fraction, Shape in) {
        SparsePlanner planner = new SparsePlanner(graph, policy, 0);
        ActivationCache[] caches = new ActivationCache[steps];
        Tensor[] timesteps = new Tensor[steps];
        try (DeviceModel device = backend.load(graph, precision); GraphExecutor exec = device.newExecutor(planner)) {
            try {
                for (int s = 0; s < steps; s++) {
                    timesteps[s] = Tensor.of(Shape.of(1), new float[] {Math.round(500.0 * s / Math.max(1, steps - 1))});
                    caches[s] = exec.newCache(Long.MAX_VALUE);
                    exec.full(caches[s], null, image, timesteps[s]);
                }
                for (long seed : new long[] {112, 12}) { // the first edit warms up
                    if (!onCpu()) warmUp(() -> exec.dense(image, timesteps[0]));
                    Tensor edited = paint.apply(Strokes.paint(in.h(), in.w(), fraction, rule.dilation(), seed));
                    long t0 = System.nanoTime();
                    Mask difference = rule.difference(image, edited);
                    SparsePlan plan = planner.plan(new BlockSets(rule.pyramid(difference)));
                    long t1 = System.nanoTime();
                    double[] ms = new double[steps];
                    for (int s = 0; s < steps; s++) {
                        long start = System.nanoTime();
                        exec.sparse(caches[s], plan, false, null, edited, timesteps[s]);
                        ms[s] = (System.nanoTime() - start) / 1e6;
                    }
                    double passes = Arrays.stream(ms).sum();
                    double first = ms[0], second = steps > 1 ? ms[1] : Double.NaN;
                    Arrays.sort(ms, Math.min(2, steps), steps);
                    if (seed == 12) {
                        System.out.printf("ddpm sdedit of %d steps, %.2f%% edit: mask and plan %.2f ms, passes %.1f ms (first %.2f, second %.2f,"
                                + " median of the rest %.2f), total %.1f ms%n", steps, 100 * difference.fraction(),
                                (t1 - t0) / 1e6, passes, first, second, steps > 2 ? ms[2 + (steps - 2) / 2] : Double.NaN,
                                (t1 - t0) / 1e6 + passes);
                    }
                }
            } finally {
                for (ActivationCache c : caches) if (c != null) c.close();
            }
        }
    }

    /**
     * {@code warmup} passes and, on a GPU, more until {@link #GPU_WARM_UP_NANOS} have gone by. A GPU
     * left idle for about a second (a model's first pass, a new edit's first pass: host work) lowers
     * its clocks and raises them again only after a second or two of load (H100, nvidia-smi,
     * 2026-11-23: SM clock 345 against 1980 MHz); sparse passes timed after such a pause ran 3x
     * slower.
     */
    private void warmUp(Supplier<Tensor> pass) {
        long end = System.nanoTime() + (onCpu() ? 0 : GPU_WARM_UP_NANOS);
        for (int i = 0; i < warmup || System.nanoTime() < end; i++) pass.get();
    }

    private static final long GPU_WARM_UP_NANOS = 3_000_000_000L;

    private double median(Supplier<Tensor> pass) {
        double[] seconds = new double[runs];
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            pass.get();
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(seconds);
        return seconds[runs / 2];
    }

    /** Median throughput of a GEMM shaped like a mid-size 3x3 convolution. */
    private static double sgemmGflops() {
        int m = 1024, n = 4096, k = 1152;
        Tensor a = randomUniform(Shape.of(m, k)), b = randomUniform(Shape.of(k, n)), c = Tensor.zeros(m, n);
        double[] t = new double[7];
        for (int i = 0; i < t.length; i++) {
            long start = System.nanoTime();
            Blas.sgemm(false, false, m, n, k, 1f, a.data(), 0, k, b.data(), 0, n, 0f, c.data(), 0, n);
            t[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(t);
        return 2.0 * m * n * k / t[t.length / 2] / 1e9;
    }

    private static Tensor randomUniform(Shape shape) {
        SplittableRandom r = new SplittableRandom(1);
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.size(); i++) t.set(i, (float) (r.nextDouble() * 2 - 1));
        return t;
    }

    /** A smooth image in [-1, 1]: a few low-frequency waves per channel. */
    private static Tensor smoothImage(Shape shape) {
        Tensor t = Tensor.zeros(shape);
        int plane = shape.h() * shape.w();
        for (int c = 0; c < shape.c(); c++) {
            for (int y = 0; y < shape.h(); y++) {
                for (int x = 0; x < shape.w(); x++) {
                    double v = Math.sin(0.021 * x * (c + 1) + 0.7 * c) * Math.cos(0.017 * y * (2 - c % 2) + 0.3);
                    t.set(c * plane + y * shape.w() + x, (float) (0.9 * v));
                }
            }
        }
        return t;
    }

    /** A label map of random rectangles over {@code labels} classes. */
    private static int[] randomLabels(int h, int w, int labels) {
        SplittableRandom r = new SplittableRandom(2);
        int[] label = new int[h * w];
        for (int rect = 0; rect < 40; rect++) {
            int y0 = r.nextInt(h), x0 = r.nextInt(w);
            int y1 = Math.min(h, y0 + 1 + r.nextInt(h / 2)), x1 = Math.min(w, x0 + 1 + r.nextInt(w / 2));
            int l = r.nextInt(labels);
            if (l == 21) l = 7; // 21 is the label edits paint
            for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) label[y * w + x] = l;
        }
        return label;
    }

    /** A mask as a NumPy uint8 [H, W] file, so other tools can replay the same edit. */
    private static void writeNpy(Mask m, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        String header = "{'descr': '|u1', 'fortran_order': False, 'shape': (" + m.height() + ", " + m.width() + "), }";
        StringBuilder padded = new StringBuilder(header);
        while ((10 + padded.length() + 1) % 64 != 0) padded.append(' ');
        padded.append('\n');
        try (OutputStream out = Files.newOutputStream(file)) {
            out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
            out.write(padded.length() & 0xff);
            out.write(padded.length() >> 8);
            out.write(padded.toString().getBytes(StandardCharsets.US_ASCII));
            for (int y = 0; y < m.height(); y++) for (int x = 0; x < m.width(); x++) out.write(m.get(y, x) ? 1 : 0);
        }
    }

    static int intOption(String[] args, String name, int fallback) {
        return Integer.parseInt(stringOption(args, name, Integer.toString(fallback)));
    }

    static String stringOption(String[] args, String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++) if (args[i].equals(name)) return args[i + 1];
        return fallback;
    }
}
