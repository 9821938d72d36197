package dev.tessera.runtime.session;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.EditResult;
import dev.tessera.EditSession;
import dev.tessera.Image;
import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;
import dev.tessera.Tessera;
import dev.tessera.runtime.Golden;
import dev.tessera.runtime.io.SafetensorsFile;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** SDEdit through the public API on the golden DDPM UNet (64x64). */
class DiffusionSessionTest {
    @Test
    void sdeditOnlyRegeneratesTheEditedRegion() {
        Image original, edited;
        try (SafetensorsFile c = Golden.tensors("ddpm")) {
            original = new Image(64, 64, c.tensor("x0_original").toArray());
            edited = new Image(64, 64, c.tensor("x0_edited").toArray());
        }
        ModelSpec spec = ModelSpec.ddpm(Golden.dir("ddpm").resolve("weights.safetensors")).with("image_size", 64).with("ch", 32)
                .with("ch_mult", Arrays.asList(1, 2, 2)).with("num_res_blocks", 1).with("attn_resolutions", Arrays.asList(16))
                .with("sparse_resolution_threshold", 32).with("mask_dilate_radius", 2);
        try (ModelHandle model = Tessera.load(spec); EditSession s = model.newSession(200, 3, 7)) {
            EditResult first = s.generate(original);
            assertArrayEquals(original.rgb(), first.image().rgb()); // SDEdit keeps an unedited image as it is
            EditResult r = s.edit(edited);
            assertEquals(0.0242, r.editedFraction(), 1e-4);
            assertTrue(r.sparseMacs() < r.denseMacs(), r.sparseMacs() + " of " + r.denseMacs());
            // Outside the (dilated) edit the result is the original; inside it is regenerated.
            int changedOutside = 0, changedInside = 0;
            try (SafetensorsFile c = Golden.tensors("ddpm")) {
                int[] mask = c.ints("difference_mask");
                for (int i = 0; i < r.image().rgb().length; i++) {
                    boolean differs = r.image().rgb()[i] != original.rgb()[i];
                    if (mask[i % 4096] == 0 && differs) changedOutside++;
                    if (mask[i % 4096] != 0 && differs) changedInside++;
                }
            }
            assertEquals(0, changedOutside);
            assertTrue(changedInside > 0);
        }
    }
}
