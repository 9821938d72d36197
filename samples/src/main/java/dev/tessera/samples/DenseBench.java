package dev.tessera.samples;

import dev.tessera.runtime.cpu.Blas;
import dev.tessera.runtime.cpu.CpuExecutor;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.io.RandomWeights;
import dev.tessera.runtime.models.DdpmConfig;
import dev.tessera.runtime.models.DdpmUnet;
import dev.tessera.runtime.models.Gaugan;
import dev.tessera.runtime.models.GauganConfig;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Dense CPU latency of the full-size models with random weights, beside OpenBLAS SGEMM throughput
 * measured in the same process: {@code bench [--runs N] [--warmup N] [--threads N] [--model gaugan|ddpm|all]}.
 */
final class DenseBench {
    private DenseBench() {}

    static void run(String[] args) {
        int runs = intOption(args, "--runs", 5);
        int warmup = intOption(args, "--warmup", 2);
        int threads = intOption(args, "--threads", Runtime.getRuntime().availableProcessors());
        String model = stringOption(args, "--model", "all");
        Blas.setThreads(threads);
        System.out.printf("threads %d (OpenBLAS %d, JVM cores %d), warm-up %d, runs %d%n", threads, Blas.threads(),
                Runtime.getRuntime().availableProcessors(), warmup, runs);
        double sgemm = sgemmGflops();
        System.out.printf("OpenBLAS SGEMM 1024x4096x1152: %.1f GFLOP/s%n", sgemm);
        if (model.equals("all") || model.equals("gaugan")) {
            GauganConfig c = GauganConfig.cityscapes();
            ModelGraph g = Gaugan.build(c, new RandomWeights(0));
            bench("GauGAN Cityscapes " + c.outputHeight() + "x" + c.outputWidth(), g, runs, warmup, sgemm,
                    randomOneHot(g.inputs().get(0).shape()));
        }
        if (model.equals("all") || model.equals("ddpm")) {
            ModelGraph g = DdpmUnet.build(DdpmConfig.church256(), new RandomWeights(0));
            Tensor t = Tensor.of(Shape.of(1), new float[] {500f});
            bench("DDPM church-256 (one UNet step)", g, runs, warmup, sgemm, randomNormal(g.inputs().get(0).shape()), t);
        }
    }

    private static void bench(String label, ModelGraph graph, int runs, int warmup, double sgemmGflops, Tensor... inputs) {
        CpuExecutor exec = new CpuExecutor(graph);
        for (int i = 0; i < warmup; i++) exec.run(inputs);
        exec.setProfiling(true);
        double[] seconds = new double[runs];
        for (int i = 0; i < runs; i++) {
            long start = System.nanoTime();
            exec.run(inputs);
            seconds[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(seconds);
        double median = seconds[runs / 2];
        long macs = graph.macs();
        long convMacs = graph.nodes().stream().filter(n -> n.op() instanceof dev.tessera.runtime.graph.Op.Conv2d)
                .mapToLong(n -> n.macs()).sum();
        Map<String, Long> nanos = exec.nanosByOp();
        double convSeconds = nanos.getOrDefault("Conv2d", 0L) / 1e9 / runs;
        double convGflops = 2.0 * convMacs / convSeconds / 1e9;
        System.out.printf("%s: median %.3f s (min %.3f, max %.3f), %.2f GMACs, %.1f GFLOP/s overall%n", label, median,
                seconds[0], seconds[runs - 1], macs / 1e9, 2.0 * macs / median / 1e9);
        System.out.printf("  convolutions: %.3f s/run, %.1f GFLOP/s = %.0f%% of SGEMM%n", convSeconds, convGflops,
                100 * convGflops / sgemmGflops);
        nanos.forEach((op, ns) -> System.out.printf("  %-18s %8.1f ms/run%n", op, ns / 1e6 / runs));
    }

    /** Median throughput of a GEMM shaped like a mid-size 3x3 convolution. */
    private static double sgemmGflops() {
        int m = 1024, n = 4096, k = 1152;
        FloatBuffer a = randomNormal(Shape.of(m, k)).data();
        FloatBuffer b = randomNormal(Shape.of(k, n)).data();
        FloatBuffer c = Tensor.allocateFloats(m * n);
        double[] t = new double[7];
        for (int i = 0; i < t.length; i++) {
            long start = System.nanoTime();
            Blas.sgemm(false, false, m, n, k, 1f, a, 0, k, b, 0, n, 0f, c, 0, n);
            t[i] = (System.nanoTime() - start) / 1e9;
        }
        Arrays.sort(t);
        return 2.0 * m * n * k / t[t.length / 2] / 1e9;
    }

    private static Tensor randomNormal(Shape shape) {
        SplittableRandom r = new SplittableRandom(1);
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < t.size(); i++) t.set(i, (float) (r.nextDouble() * 2 - 1));
        return t;
    }

    /** A label map of random rectangles, one-hot over all but the last channel (instance edges stay 0). */
    private static Tensor randomOneHot(Shape shape) {
        SplittableRandom r = new SplittableRandom(2);
        int h = shape.h(), w = shape.w(), labels = shape.c() - 1;
        int[] label = new int[h * w];
        for (int rect = 0; rect < 40; rect++) {
            int y0 = r.nextInt(h), x0 = r.nextInt(w), y1 = Math.min(h, y0 + 1 + r.nextInt(h / 2)), x1 = Math.min(w, x0 + 1 + r.nextInt(w / 2));
            int l = r.nextInt(labels);
            for (int y = y0; y < y1; y++) for (int x = x0; x < x1; x++) label[y * w + x] = l;
        }
        Tensor t = Tensor.zeros(shape);
        for (int i = 0; i < h * w; i++) t.set(label[i] * h * w + i, 1f);
        return t;
    }

    static int intOption(String[] args, String name, int fallback) {
        return Integer.parseInt(stringOption(args, name, Integer.toString(fallback)));
    }

    static String stringOption(String[] args, String name, String fallback) {
        for (int i = 0; i + 1 < args.length; i++) if (args[i].equals(name)) return args[i + 1];
        return fallback;
    }
}
