package dev.tessera.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.runtime.io.SafetensorsFile;
import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code tessera edit} on label-map PNGs made from the golden GauGAN case. */
class EditCommandTest {
    @Test
    void writesBothImages(@TempDir Path dir) throws Exception {
        Path golden = Path.of(System.getProperty("tessera.golden", "../testdata/golden"), "gaugan");
        try (SafetensorsFile c = SafetensorsFile.open(golden.resolve("case.safetensors"))) {
            writeLabels(c.ints("label_original"), dir.resolve("a.png"));
            writeLabels(c.ints("label_edited"), dir.resolve("b.png"));
        }
        Edit.run(new String[] {"--model", "gaugan", "--weights", golden.resolve("weights.safetensors").toString(),
                "--original", dir.resolve("a.png").toString(), "--edited", dir.resolve("b.png").toString(),
                "--out", dir.resolve("out").toString(), "--set", "ngf=8", "--set", "crop_size=256", "--set", "aspect_ratio=2.0",
                "--set", "num_upsampling_layers=more"});
        for (String name : new String[] {"original.png", "edited.png"}) {
            BufferedImage img = ImageIO.read(dir.resolve("out").resolve(name).toFile());
            assertEquals(256, img.getWidth());
            assertEquals(128, img.getHeight());
        }
    }

    private static void writeLabels(int[] labels, Path file) throws Exception {
        BufferedImage img = new BufferedImage(256, 128, BufferedImage.TYPE_BYTE_GRAY);
        for (int i = 0; i < labels.length; i++) img.getRaster().setSample(i % 256, i / 256, 0, labels[i]);
        ImageIO.write(img, "png", Files.newOutputStream(file));
    }
}
