package dev.tessera.samples;

import dev.tessera.EditProgress;
import dev.tessera.EditResult;
import dev.tessera.EditSession;
import dev.tessera.Image;
import dev.tessera.LabelMap;
import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;
import dev.tessera.Tessera;
import dev.tessera.runtime.mask.ActiveBlocks;
import dev.tessera.runtime.mask.BlockKey;
import dev.tessera.runtime.mask.BlockSets;
import dev.tessera.runtime.mask.MaskRule;
import dev.tessera.runtime.models.GauganConfig;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import javax.imageio.ImageIO;

/**
 * The README's main job: the bundled GauGAN (trained on procedural scenes, tools/demo_gaugan)
 * generates an image from the built-in label map, then a scripted brush stroke paints trees across
 * the road and only the tiles that cover it are recomputed. Writes original.png, edited.png and
 * side-by-side.png (labels | original | edited, recomputed tiles outlined) and prints dense vs
 * sparse time and MACs. {@code demo [--out DIR]}
 */
final class Demo {
    private Demo() {}

    static void run(String[] args) throws Exception {
        Path out = Path.of(Bench.stringOption(args, "--out", "demo-output"));
        GauganConfig config = DemoScene.config();
        Path weights = Files.createTempFile("tessera-demo", ".safetensors");
        try (InputStream in = Demo.class.getResourceAsStream("/demo/weights.safetensors")) {
            Files.copy(in, weights, StandardCopyOption.REPLACE_EXISTING);
        }
        ModelSpec spec = ModelSpec.gaugan(weights).with("ngf", config.ngf()).with("semantic_nc", config.semanticNc())
                .with("crop_size", config.cropSize()).with("aspect_ratio", config.aspectRatio()).with("num_upsampling_layers", "more");
        DemoScene.Scene original = DemoScene.original(config.outputHeight(), config.outputWidth());
        DemoScene.Scene edited = DemoScene.edited(config.outputHeight(), config.outputWidth());
        try (ModelHandle model = Tessera.load(spec); EditSession session = model.newSession()) {
            System.out.println("GauGAN demo model, " + config.outputWidth() + "x" + config.outputHeight() + ", on "
                    + model.backend() + " (" + model.device() + ")");
            EditResult generated = session.generateAsync(labelMap(original), Demo::progressBar).get();
            // Timings after one warm-up of each path (the JIT compiles the sparse kernels on first use).
            session.editAsync(labelMap(edited), Demo::progressBar).get();
            session.revert();
            EditResult edit = session.editAsync(labelMap(edited), Demo::progressBar).get();
            EditResult dense;
            try (EditSession fresh = model.newSession()) {
                fresh.generate(labelMap(edited));
                dense = fresh.generateAsync(labelMap(edited), Demo::progressBar).get();
            }
            System.err.print("\r" + " ".repeat(60) + "\r");

            Files.createDirectories(out);
            ImageIO.write(toImage(generated.image()), "png", out.resolve("original.png").toFile());
            ImageIO.write(toImage(edit.image()), "png", out.resolve("edited.png").toFile());
            ImageIO.write(sideBySide(original, generated.image(), edit.image(), recomputedTiles(config, original, edited)),
                    "png", out.resolve("side-by-side.png").toFile());

            double denseMs = dense.total().toNanos() / 1e6, sparseMs = edit.total().toNanos() / 1e6;
            System.out.printf("edit: %.2f%% of the label map changed (brush stroke: trees across the road)%n", 100 * edit.editedFraction());
            System.out.printf("dense (full pass on the edited map): %7.1f ms, %.2f GMACs%n", denseMs, dense.denseMacs() / 1e9);
            System.out.printf("sparse (incremental edit):           %7.1f ms, %.2f GMACs%n", sparseMs, edit.sparseMacs() / 1e9);
            System.out.printf("speedup %.1fx at %.1fx fewer MACs; phases %s%n", denseMs / sparseMs, edit.macRatio(), edit.phases());
            System.out.println("wrote " + out.resolve("original.png") + ", " + out.resolve("edited.png") + ", " + out.resolve("side-by-side.png"));
        } finally {
            Files.deleteIfExists(weights);
        }
    }

    private static LabelMap labelMap(DemoScene.Scene s) {
        return new LabelMap(s.width(), s.height(), s.labels(), s.instances());
    }

    /** A one-line progress bar on stderr, redrawn when it grows. */
    static void progressBar(EditProgress p) {
        int filled = (int) (30 * p.fraction());
        if (p.done() > 1 && filled == (int) (30 * (p.done() - 1.0) / p.total())) return;
        System.err.printf("\r%-10s [%s%s] %3.0f%%", p.phase(), "#".repeat(filled), ".".repeat(30 - filled), 100 * p.fraction());
    }

    /** The 4x4 output tiles of the last block's convolutions: the pixels the edit recomputed at full resolution. */
    private static ActiveBlocks recomputedTiles(GauganConfig config, DemoScene.Scene original, DemoScene.Scene edited) {
        MaskRule rule = config.maskRule();
        BlockSets blocks = new BlockSets(rule.pyramid(rule.difference(original.semantics(), edited.semantics())));
        return blocks.get(BlockKey.forConv(config.outputHeight(), config.outputWidth(), 3, 1, 1, 6));
    }

    private static BufferedImage sideBySide(DemoScene.Scene labels, Image before, Image after, ActiveBlocks tiles) {
        int w = before.width(), h = before.height();
        BufferedImage out = new BufferedImage(3 * w, h, BufferedImage.TYPE_INT_RGB);
        out.setRGB(0, 0, w, h, DemoScene.colorize(labels.labels()), 0, w);
        out.setRGB(w, 0, w, h, before.toRgbPixels(), 0, w);
        out.setRGB(2 * w, 0, w, h, after.toRgbPixels(), 0, w);
        // Outline the union of the recomputed 4x4 output tiles (a 6x6 input block of a 3x3 conv yields
        // the 4x4 tile one pixel in): red where a recomputed pixel has a neighbour that was not.
        boolean[] recomputed = new boolean[w * h];
        for (int i = 0; i < tiles.count(); i++) {
            for (int y = Math.max(0, tiles.row(i) + 1); y < Math.min(h, tiles.row(i) + 5); y++) {
                for (int x = Math.max(0, tiles.col(i) + 1); x < Math.min(w, tiles.col(i) + 5); x++) recomputed[y * w + x] = true;
            }
        }
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (!recomputed[y * w + x]) continue;
                boolean edge = y == 0 || x == 0 || y == h - 1 || x == w - 1 || !recomputed[(y - 1) * w + x]
                        || !recomputed[(y + 1) * w + x] || !recomputed[y * w + x - 1] || !recomputed[y * w + x + 1];
                if (edge) out.setRGB(2 * w + x, y, 0xFF2828);
            }
        }
        return out;
    }

    private static BufferedImage toImage(Image image) {
        BufferedImage out = new BufferedImage(image.width(), image.height(), BufferedImage.TYPE_INT_RGB);
        out.setRGB(0, 0, image.width(), image.height(), image.toRgbPixels(), 0, image.width());
        return out;
    }
}
