package dev.tessera.samples;

import dev.tessera.EditInput;
import dev.tessera.EditResult;
import dev.tessera.EditSession;
import dev.tessera.Image;
import dev.tessera.LabelMap;
import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;
import dev.tessera.Tessera;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import javax.imageio.ImageIO;

/**
 * {@code edit --model gaugan|ddpm --weights W.safetensors --original A.png --edited B.png [--out DIR]
 * [--set name=value ...] [--backend NAME]}: generates from the original, edits to the edited input,
 * and writes original.png and edited.png. GauGAN inputs are label maps (gray PNGs whose pixel value
 * is the label id; instance ids follow labels); diffusion inputs are RGB PNGs.
 */
final class Edit {
    private Edit() {}

    static void run(String[] args) throws Exception {
        String model = Bench.stringOption(args, "--model", "gaugan");
        Path out = Path.of(Bench.stringOption(args, "--out", "edit-output"));
        ModelSpec spec = ModelSpec.of(ModelSpec.Architecture.valueOf(model.toUpperCase()), Path.of(required(args, "--weights")));
        for (int i = 0; i + 1 < args.length; i++) {
            if (!args[i].equals("--set")) continue;
            String[] kv = args[i + 1].split("=", 2);
            spec = spec.with(kv[0], parse(kv[1]));
        }
        String backend = Bench.stringOption(args, "--backend", "");
        if (!backend.isEmpty()) spec = spec.withBackend(backend);
        boolean labels = spec.architecture() == ModelSpec.Architecture.GAUGAN;
        EditInput original = read(required(args, "--original"), labels), edited = read(required(args, "--edited"), labels);
        try (ModelHandle handle = Tessera.load(spec); EditSession session = handle.newSession()) {
            EditResult first = session.generateAsync(original, Demo::progressBar).get();
            EditResult edit = session.editAsync(edited, Demo::progressBar).get();
            System.err.print("\r" + " ".repeat(60) + "\r");
            java.nio.file.Files.createDirectories(out);
            write(first.image(), out.resolve("original.png"));
            write(edit.image(), out.resolve("edited.png"));
            System.out.printf("%s on %s: full pass %.0f ms; edit of %.2f%% in %.0f ms, %.2f of %.2f GMACs%n", model, handle.backend(),
                    first.total().toNanos() / 1e6, 100 * edit.editedFraction(), edit.total().toNanos() / 1e6,
                    edit.sparseMacs() / 1e9, edit.denseMacs() / 1e9);
            System.out.println("wrote " + out.resolve("original.png") + " and " + out.resolve("edited.png"));
        }
    }

    private static String required(String[] args, String name) {
        String v = Bench.stringOption(args, name, "");
        if (v.isEmpty()) throw new IllegalArgumentException("edit needs " + name);
        return v;
    }

    private static Object parse(String v) {
        try {
            return v.contains(".") ? (Object) Double.parseDouble(v) : (Object) Integer.parseInt(v);
        } catch (NumberFormatException e) {
            return v;
        }
    }

    private static EditInput read(String file, boolean labels) throws IOException {
        BufferedImage img = ImageIO.read(new File(file));
        if (img == null) throw new IOException(file + " is not an image ImageIO can read");
        int w = img.getWidth(), h = img.getHeight();
        int[] rgb = img.getRGB(0, 0, w, h, null, 0, w);
        if (!labels) return Image.fromRgbPixels(w, h, rgb);
        int[] ids = new int[w * h];
        boolean gray = img.getRaster().getNumBands() == 1; // raw samples: getRGB would gamma-convert gray
        for (int i = 0; i < ids.length; i++) ids[i] = gray ? img.getRaster().getSample(i % w, i / w, 0) : (rgb[i] >> 16) & 0xff;
        return LabelMap.of(w, h, ids);
    }

    private static void write(Image image, Path file) throws IOException {
        BufferedImage out = new BufferedImage(image.width(), image.height(), BufferedImage.TYPE_INT_RGB);
        out.setRGB(0, 0, image.width(), image.height(), image.toRgbPixels(), 0, image.width());
        ImageIO.write(out, "png", file.toFile());
    }
}
