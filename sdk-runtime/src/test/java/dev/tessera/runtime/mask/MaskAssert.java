package dev.tessera.runtime.mask;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;

/** Mask assertions with a readable failure (how many pixels differ, and where the first one is). */
final class MaskAssert {
    private MaskAssert() {}

    static void assertMaskEquals(String label, Mask expected, Mask actual) {
        assertEquals(expected.height() + "x" + expected.width(), actual.height() + "x" + actual.width(), label + ": size");
        if (expected.equals(actual)) return;
        int diff = 0, first = -1;
        for (int y = 0; y < expected.height(); y++) {
            for (int x = 0; x < expected.width(); x++) {
                if (expected.get(y, x) != actual.get(y, x)) {
                    if (first < 0) first = y * expected.width() + x;
                    diff++;
                }
            }
        }
        fail(label + ": " + diff + " pixels differ (expected " + expected.count() + " set, got " + actual.count()
                + "), first at (" + first / expected.width() + ", " + first % expected.width() + ")");
    }

    /** A random mask, each pixel set with probability {@code density}, deterministic per seed. */
    static Mask randomMask(int h, int w, double density, long seed) {
        Random r = new Random(seed);
        boolean[] b = new boolean[h * w];
        for (int i = 0; i < b.length; i++) b[i] = r.nextDouble() < density;
        return Mask.of(h, w, b);
    }
}
