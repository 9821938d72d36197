package dev.tessera.runtime.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.InvalidInputException;
import dev.tessera.InvalidWeightsException;
import dev.tessera.runtime.Golden;
import dev.tessera.runtime.cpu.CpuExecutor;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Models refuse input and weights that do not fit them, with messages that say what was expected. */
class BadInputTest {

    @Test
    void semanticMapMatchesReferenceEncoding() {
        try (SafetensorsFile c = Golden.tensors("gaugan")) {
            Tensor ours = SemanticMap.of(c.ints("label_original"), c.ints("instance_original"), 128, 256, 35);
            assertArrayEquals(c.tensor("semantics_original").toArray(), ours.toArray());
        }
    }

    @Test
    void labelOutOfRangeIsNamed() {
        int[] labels = new int[4 * 4];
        labels[5] = 35;
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> SemanticMap.of(labels, new int[16], 4, 4, 35));
        assertTrue(e.getMessage().contains("label 35 at pixel (1, 1) is outside [0, 35)"), e.getMessage());
    }

    @Test
    void wrongChannelCountSizeAndNaNAreNamed() {
        try (SafetensorsFile w = Golden.weights("gaugan")) {
            CpuExecutor exec = new CpuExecutor(Gaugan.build(ModelsForTests.GOLDEN_GAUGAN, w));
            InvalidInputException channels = assertThrows(InvalidInputException.class,
                    () -> exec.run(Tensor.zeros(Shape.nchw(1, 35, 128, 256))));
            assertTrue(channels.getMessage().contains("shape [1, 35, 128, 256], expected [1, 36, 128, 256]"), channels.getMessage());
            assertThrows(InvalidInputException.class, () -> exec.run(Tensor.zeros(Shape.nchw(1, 36, 64, 128))));
            Tensor nan = Tensor.zeros(Shape.nchw(1, 36, 128, 256));
            nan.set(7, Float.NaN);
            InvalidInputException e = assertThrows(InvalidInputException.class, () -> exec.run(nan));
            assertTrue(e.getMessage().contains("NaN at flat index 7"), e.getMessage());
            nan.set(7, 0f);
            nan.set(nan.size() - 3, Float.NEGATIVE_INFINITY); // in the last chunk the scan reads
            InvalidInputException inf = assertThrows(InvalidInputException.class, () -> exec.run(nan));
            assertTrue(inf.getMessage().contains("-Infinity at flat index " + (nan.size() - 3)), inf.getMessage());
        }
    }

    @Test
    void weightsOfAnotherConfigurationNameTheKey() {
        try (SafetensorsFile w = Golden.weights("gaugan")) {
            GauganConfig wider = new GauganConfig(16, 36, 256, 2.0, 6);
            InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> Gaugan.build(wider, w));
            assertTrue(e.getMessage().contains("fc.weight"), e.getMessage());
            assertTrue(e.getMessage().contains("[256, 36, 3, 3]"), e.getMessage());
        }
    }
}
