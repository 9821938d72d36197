package dev.tessera.samples;

import dev.tessera.runtime.cpu.CpuExecutor;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.models.Gaugan;
import dev.tessera.runtime.models.GauganConfig;
import dev.tessera.runtime.tensor.Tensor;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * The README's main job, as far as the engine goes today: the small GauGAN of the conformance case
 * (reference weights, a Cityscapes label map and an edited copy) run densely on the CPU backend;
 * prints latency and MACs and writes both images. {@code demo [--case DIR] [--out DIR]}
 */
final class Demo {
    private Demo() {}

    static void run(String[] args) throws IOException {
        Path caseDir = Path.of(Bench.stringOption(args, "--case", "testdata/golden/gaugan"));
        Path out = Path.of(Bench.stringOption(args, "--out", "demo-output"));
        GauganConfig config = new GauganConfig(8, 36, 256, 2.0, 6);
        try (SafetensorsFile weights = SafetensorsFile.open(caseDir.resolve("weights.safetensors"));
                SafetensorsFile inputs = SafetensorsFile.open(caseDir.resolve("case.safetensors"))) {
            CpuExecutor exec = new CpuExecutor(Gaugan.build(config, weights));
            Tensor original = exec.run(inputs.tensor("semantics_original"));
            long start = System.nanoTime();
            Tensor edited = exec.run(inputs.tensor("semantics_edited"));
            double ms = (System.nanoTime() - start) / 1e6;
            double changed = 0;
            for (int i = 0; i < edited.size(); i++) changed = Math.max(changed, Math.abs(edited.get(i) - original.get(i)));
            Files.createDirectories(out);
            writePng(original, out.resolve("original.png"));
            writePng(edited, out.resolve("edited.png"));
            System.out.printf("GauGAN %dx%d, CPU backend, dense: %.1f ms, %.2f GMACs; max |edited - original| %.4f%n",
                    config.outputWidth(), config.outputHeight(), ms, exec.graph().macs() / 1e9, changed);
            System.out.println("wrote " + out.resolve("original.png") + " and " + out.resolve("edited.png"));
        }
    }

    /** Writes an RGB tensor [1, 3, H, W] in [-1, 1], stretched to the full 0..255 range to show structure. */
    static void writePng(Tensor rgb, Path file) throws IOException {
        int h = rgb.shape().h(), w = rgb.shape().w(), plane = h * w;
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        for (int i = 0; i < rgb.size(); i++) {
            min = Math.min(min, rgb.get(i));
            max = Math.max(max, rgb.get(i));
        }
        float scale = max > min ? 255f / (max - min) : 0f;
        BufferedImage image = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int i = y * w + x, pixel = 0;
                for (int c = 0; c < 3; c++) pixel = pixel << 8 | Math.round((rgb.get(c * plane + i) - min) * scale);
                image.setRGB(x, y, pixel);
            }
        }
        ImageIO.write(image, "png", file.toFile());
    }
}
