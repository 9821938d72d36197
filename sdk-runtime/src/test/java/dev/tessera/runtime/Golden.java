package dev.tessera.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.mask.MaskPyramid;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.file.Path;

/** The reference's conformance vectors (testdata/golden, see its README) and the tolerance they set. */
public final class Golden {
    /** max |ours - reference| may be at most this fraction of max |reference| (float32 round-off). */
    public static final double RELATIVE_TOLERANCE = 1e-4;

    private Golden() {}

    public static Path dir(String caseName) {
        return Path.of(System.getProperty("tessera.golden", "../testdata/golden")).resolve(caseName);
    }

    public static SafetensorsFile weights(String caseName) {
        return SafetensorsFile.open(dir(caseName).resolve("weights.safetensors"));
    }

    public static SafetensorsFile tensors(String caseName) {
        return SafetensorsFile.open(dir(caseName).resolve("case.safetensors"));
    }

    /** The ddpm case's masks as the reference made them: its difference mask, pooled at 16x16 blocks down to 1x1. */
    public static MaskPyramid ddpmMasks(SafetensorsFile ddpmCase) {
        return MaskPyramid.of(Mask.fromTensor(ddpmCase.tensor("difference_mask")), 16, 16, 1);
    }

    /** Asserts the float32 tolerance, prints the figures, and returns max |actual - expected|. */
    public static double assertMatches(String label, Tensor expected, Tensor actual) {
        return assertMatches(label, expected, actual, RELATIVE_TOLERANCE);
    }

    /** Asserts max |actual - expected| <= relative x max |expected|, prints the figures, returns the error. */
    public static double assertMatches(String label, Tensor expected, Tensor actual, double relative) {
        assertEquals(expected.shape(), actual.shape(), label + ": shape");
        double maxErr = actual.maxAbsDifference(expected), maxRef = expected.maxAbs();
        System.out.printf("%-40s max|err| %.3e  max|ref| %.3e  relative %.3e%n", label, maxErr, maxRef, maxErr / maxRef);
        assertTrue(maxErr <= relative * maxRef, label + ": max |err| " + maxErr + " exceeds " + relative + " x max |ref| " + maxRef);
        return maxErr;
    }
}
