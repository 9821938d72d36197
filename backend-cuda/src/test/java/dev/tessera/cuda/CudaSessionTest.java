package dev.tessera.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.EditResult;
import dev.tessera.EditSession;
import dev.tessera.LabelMap;
import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;
import dev.tessera.Tessera;
import dev.tessera.runtime.Golden;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The public API on the CUDA backend: a session's edits on the golden GauGAN, in both precisions. */
class CudaSessionTest {
    @BeforeAll
    static void needsGpu() {
        assumeTrue(CudaDevice.unavailableReason() == null, () -> "no CUDA: " + CudaDevice.unavailableReason());
    }

    @Test
    void editsMatchTheReferenceInBothPrecisions() {
        try (SafetensorsFile c = Golden.tensors("gaugan")) {
            LabelMap original = new LabelMap(256, 128, c.ints("label_original"), c.ints("instance_original"));
            LabelMap edited = new LabelMap(256, 128, c.ints("label_edited"), c.ints("instance_edited"));
            ModelSpec spec = ModelSpec.gaugan(Golden.dir("gaugan").resolve("weights.safetensors"))
                    .with("ngf", 8).with("crop_size", 256).with("aspect_ratio", 2.0).with("num_upsampling_layers", "more")
                    .withBackend("cuda");
            for (ModelSpec.CachePrecision p : ModelSpec.CachePrecision.values()) {
                double tolerance = p == ModelSpec.CachePrecision.FP32 ? Golden.RELATIVE_TOLERANCE : 5e-3;
                try (ModelHandle model = Tessera.load(spec.withCachePrecision(p)); EditSession s = model.newSession()) {
                    s.generate(original);
                    EditResult r = s.edit(edited);
                    assertEquals("cuda", r.backend());
                    Golden.assertMatches("cuda session edit " + p, c.tensor("sparse_edited"), image(r), tolerance);
                    s.accept();
                    Golden.assertMatches("cuda session back " + p, c.tensor("full_original"), image(s.edit(original)), tolerance);
                }
            }
        }
    }

    private static Tensor image(EditResult r) {
        return Tensor.of(dev.tessera.runtime.tensor.Shape.nchw(1, 3, r.image().height(), r.image().width()), r.image().rgb());
    }
}
