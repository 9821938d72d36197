package dev.tessera.runtime.mask;

import static dev.tessera.runtime.mask.MaskAssert.assertMaskEquals;
import static dev.tessera.runtime.mask.MaskAssert.randomMask;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.InvalidInputException;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

class DifferenceMaskTest {
    @Test
    void anyChannelOverEpsIsChanged() {
        Tensor a = Tensor.zeros(1, 2, 2, 3), b = Tensor.zeros(1, 2, 2, 3);
        b.set(1, 0.5f);            // channel 0, pixel (0, 1)
        b.set(6 + 5, -0.5f);       // channel 1, pixel (1, 2)
        b.set(6 + 3, 0.01f);       // channel 1, pixel (1, 0): exactly eps, not changed (strict >)
        Mask m = DifferenceMask.of(a, b, 0.01f, 0);
        assertEquals(Mask.of(2, 3, new boolean[] {false, true, false, false, false, true}), m);
        // [C, H, W] and [H, W] inputs give the same per-pixel answer.
        assertEquals(m, DifferenceMask.of(a.reshape(Shape.of(2, 2, 3)), b.reshape(Shape.of(2, 2, 3)), 0.01f, 0));
        Tensor a2 = Tensor.zeros(2, 3), b2 = Tensor.of(Shape.of(2, 3), new float[] {0, 1, 0, 0, 0, 0});
        assertEquals(1, DifferenceMask.changed(a2, b2, 0f).count());
    }

    @Test
    void shapeMismatchNamesBothShapes() {
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> DifferenceMask.of(Tensor.zeros(1, 3, 8, 8), Tensor.zeros(1, 3, 8, 9), 0.01f, 1));
        assertTrue(e.getMessage().contains("[1, 3, 8, 8]") && e.getMessage().contains("[1, 3, 8, 9]"), e.getMessage());
        assertThrows(InvalidInputException.class, () -> DifferenceMask.of(Tensor.zeros(2, 3, 4, 4), Tensor.zeros(2, 3, 4, 4), 0.01f, 1));
        assertThrows(InvalidInputException.class, () -> DifferenceMask.of(Tensor.zeros(4), Tensor.zeros(4), 0.01f, 1));
        assertThrows(IllegalArgumentException.class, () -> DifferenceMask.of(Tensor.zeros(4, 4), Tensor.zeros(4, 4), Float.NaN, 1));
    }

    @Test
    void nonFiniteInputsAreRejected() {
        Tensor a = Tensor.zeros(1, 1, 2, 2), b = Tensor.zeros(1, 1, 2, 2);
        b.set(3, Float.NaN);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> DifferenceMask.of(a, b, 0.01f, 1));
        assertTrue(e.getMessage().contains("edited") && e.getMessage().contains("NaN"), e.getMessage());
        b.set(3, Float.POSITIVE_INFINITY);
        assertThrows(InvalidInputException.class, () -> DifferenceMask.of(a, b, 0.01f, 1));
        a.set(3, Float.POSITIVE_INFINITY); // inf - inf is NaN: still rejected
        assertThrows(InvalidInputException.class, () -> DifferenceMask.of(a, b, 0.01f, 1));
        // A finite difference that overflows float32 is a change, not an error.
        Tensor c = Tensor.zeros(1, 1, 1, 1), d = Tensor.zeros(1, 1, 1, 1);
        c.set(0, -3e38f);
        d.set(0, 3e38f);
        assertEquals(1, DifferenceMask.of(c, d, 0.01f, 0).count());
    }

    @Test
    void aLargeInputSplitOverTheCoresGivesTheSameMaskAndNamesItsNaN() {
        int c = 9, h = 170, w = 301, plane = h * w; // 460,530 values: computed in several ranges of pixels
        Tensor a = Tensor.zeros(1, c, h, w), b = Tensor.zeros(1, c, h, w);
        boolean[] want = new boolean[plane];
        java.util.SplittableRandom random = new java.util.SplittableRandom(3);
        for (int k = 0; k < 2000; k++) {
            int ch = random.nextInt(c), p = random.nextInt(plane);
            b.set(ch * plane + p, 1f);
            want[p] = true;
        }
        assertEquals(Mask.of(h, w, want), DifferenceMask.changed(a, b, 0.5f));
        b.set(7 * plane + plane - 2, Float.NaN); // in the last range of pixels
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> DifferenceMask.changed(a, b, 0.5f));
        assertTrue(e.getMessage().contains("channel 7, pixel (" + (h - 1) + ", " + (w - 2) + ")"), e.getMessage());
    }

    @Test
    void dilationIsACrossNotASquare() {
        boolean[] px = new boolean[25];
        px[2 * 5 + 2] = true;
        Mask d = DifferenceMask.dilate(Mask.of(5, 5, px), 2);
        assertEquals(9, d.count()); // 1 + 4 arms of 2
        assertTrue(d.get(0, 2) && d.get(4, 2) && d.get(2, 0) && d.get(2, 4));
        assertTrue(!d.get(1, 1) && !d.get(3, 3));
        // Radius 0 and empty masks are returned as they are.
        Mask m = Mask.of(5, 5, px);
        assertSame(m, DifferenceMask.dilate(m, 0));
        assertEquals(Mask.full(1, 1), DifferenceMask.dilate(Mask.full(1, 1), 3));
        assertThrows(IllegalArgumentException.class, () -> DifferenceMask.dilate(m, -1));
    }

    @Test
    void dilationMatchesShiftedOrs() {
        int[][] sizes = {{1, 1}, {1, 7}, {7, 1}, {9, 13}, {32, 17}};
        long seed = 1;
        for (int[] s : sizes) {
            for (int rh = 0; rh <= 3; rh++) {
                for (int rw = 0; rw <= 3; rw++) {
                    Mask m = randomMask(s[0], s[1], 0.05, seed++);
                    assertMaskEquals(s[0] + "x" + s[1] + " r" + rh + "," + rw, shiftedOrs(m, rh, rw), DifferenceMask.dilate(m, rh, rw));
                }
            }
        }
    }

    /** The reference's formulation: OR the ORIGINAL mask shifted by 1..r up/down, then by 1..r left/right. */
    private static Mask shiftedOrs(Mask m, int rh, int rw) {
        int h = m.height(), w = m.width();
        boolean[] out = m.toArray();
        for (int i = 1; i <= rh; i++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    if (y + i < h && m.get(y + i, x)) out[y * w + x] = true;
                    if (y - i >= 0 && m.get(y - i, x)) out[y * w + x] = true;
                }
            }
        }
        for (int i = 1; i <= rw; i++) {
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    if (x + i < w && m.get(y, x + i)) out[y * w + x] = true;
                    if (x - i >= 0 && m.get(y, x - i)) out[y * w + x] = true;
                }
            }
        }
        return Mask.of(h, w, out);
    }
}
