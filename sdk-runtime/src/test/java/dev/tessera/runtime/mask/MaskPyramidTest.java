package dev.tessera.runtime.mask;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class MaskPyramidTest {
    private static List<Resolution> res(int... hw) {
        Resolution[] r = new Resolution[hw.length / 2];
        for (int i = 0; i < r.length; i++) r[i] = new Resolution(hw[2 * i], hw[2 * i + 1]);
        return Arrays.asList(r);
    }

    @Test
    void levelsStopWhenBothSidesAreBelowTheMinimum() {
        Mask m = MaskAssert.randomMask(128, 256, 0.01, 7);
        assertEquals(res(128, 256, 64, 128, 32, 64, 16, 32, 8, 16, 4, 8, 2, 4), MaskPyramid.of(m, 2, 4, 2).resolutions());
        assertEquals(res(64, 64, 32, 32, 16, 16), MaskPyramid.of(MaskAssert.randomMask(64, 64, 0.01, 8), 16, 1).resolutions());
        // One side at or above its minimum keeps the level.
        assertEquals(res(16, 64, 8, 32, 4, 16), MaskPyramid.of(MaskAssert.randomMask(16, 64, 0.1, 9), 16, 16, 1).resolutions());
        // Odd sizes halve with floor.
        assertEquals(res(13, 7, 6, 3), MaskPyramid.of(MaskAssert.randomMask(13, 7, 0.1, 10), 4, 4, 1).resolutions());
        assertEquals(res(13, 7, 6, 3, 3, 1), MaskPyramid.of(MaskAssert.randomMask(13, 7, 0.1, 10), 3, 3, 1).resolutions());
    }

    @Test
    void haltingAtAZeroSide() {
        // The reference would try to resize 1x64 to 0x32 and fail; we end at the last non-empty level.
        MaskPyramid p = MaskPyramid.of(MaskAssert.randomMask(4, 256, 0.1, 11), 4, 4, 1);
        assertEquals(res(4, 256, 2, 128, 1, 64), p.resolutions());
        assertEquals(res(1, 1), MaskPyramid.of(Mask.full(1, 1), 1, 1, 1).resolutions());
        assertEquals(Mask.full(1, 1), MaskPyramid.of(Mask.full(1, 1), 1, 1, 1).at(1, 1));
    }

    @Test
    void firstLevelIsTheDilatedMask() {
        Mask m = MaskAssert.randomMask(32, 48, 0.02, 12);
        assertEquals(DifferenceMask.dilate(m, 2), MaskPyramid.of(m, 4, 2).at(32, 48));
        assertEquals(m, MaskPyramid.of(m, 4, 0).at(32, 48));
    }

    @Test
    void aSinglePixelSurvivesEveryLevel() {
        // Interpolated values fall to 1/4, 1/16, ...: t = max - 1e-3 keeps the strongest pixel.
        boolean[] px = new boolean[64 * 64];
        px[10 * 64 + 20] = true;
        MaskPyramid p = MaskPyramid.of(Mask.of(64, 64, px), 1, 0);
        for (Mask m : p.masks()) assertTrue(m.count() >= 1, m.toString());
        assertTrue(p.at(32, 32).get(5, 10));
        assertEquals(1, p.at(32, 32).count());
        assertEquals(Mask.full(1, 1), p.at(1, 1));
    }

    @Test
    void anEmptyMaskBecomesFullLikeTheReference() {
        // max 0 gives t = -1e-3, and every 0 passes "> t": the reference marks everything active.
        MaskPyramid p = MaskPyramid.of(Mask.empty(16, 16), 4, 1);
        assertEquals(Mask.full(16, 16), p.at(16, 16));
        assertEquals(Mask.full(8, 8), p.at(8, 8));
        assertEquals(Mask.full(4, 4), p.at(4, 4));
    }

    @Test
    void atListsTheAvailableResolutions() {
        MaskPyramid p = MaskPyramid.of(Mask.full(8, 16), 2, 1);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> p.at(5, 5));
        assertTrue(e.getMessage().contains("5x5") && e.getMessage().contains("[8x16, 4x8, 2x4, 1x2]"), e.getMessage());
        assertTrue(p.contains(4, 8));
        assertSame(p.at(4, 8), p.at(new Resolution(4, 8)));
        assertThrows(IllegalArgumentException.class, () -> MaskPyramid.of(Mask.full(8, 8), 0, 1));
        assertThrows(IllegalArgumentException.class, () -> MaskPyramid.of(Mask.full(8, 8), 2, -1));
    }

    @Test
    void explicitMasks() {
        Mask a = Mask.full(8, 8), b = Mask.empty(4, 4);
        MaskPyramid p = MaskPyramid.ofMasks(a, b);
        assertSame(b, p.at(4, 4)); // held as given: an explicit empty mask stays empty
        assertEquals(res(8, 8, 4, 4), p.resolutions());
        assertThrows(IllegalArgumentException.class, () -> MaskPyramid.ofMasks(a, Mask.empty(8, 8)));
    }

    @Test
    void bilinearFollowsPyTorch() {
        // Halving: each output is the mean of a 2x2 block.
        float[] in = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
        assertArrayEquals(new float[] {2.5f, 4.5f, 10.5f, 12.5f}, MaskPyramid.resizeBilinear(in, 4, 4, 2, 2));
        // 3 -> 1: source coordinate 3 * 0.5 - 0.5 = 1, the centre pixel.
        float[] c = {0, 0, 0, 0, 7, 0, 0, 0, 0};
        assertArrayEquals(new float[] {7}, MaskPyramid.resizeBilinear(c, 3, 3, 1, 1));
        // 1 x 5 -> 1 x 2: scale 2.5, sources 0.75 and 3.25.
        float[] r = {0, 4, 8, 12, 16};
        assertArrayEquals(new float[] {3f, 13f}, MaskPyramid.resizeBilinear(r, 1, 5, 1, 2));
        // 2 -> 1: source 2 * 0.5 - 0.5 = 0.5, the mean of both.
        assertArrayEquals(new float[] {5f}, MaskPyramid.resizeBilinear(new float[] {4, 6}, 2, 1, 1, 1));
        // Large outputs (h + w > 128) take the generic kernel: same values for halvings.
        float[] big = new float[2 * 300];
        for (int i = 0; i < big.length; i++) big[i] = (i % 7) * 0.25f;
        float[] out = MaskPyramid.resizeBilinear(big, 2, 300, 1, 150);
        for (int x = 0; x < 150; x++) {
            float mean = (big[2 * x] + big[2 * x + 1] + big[300 + 2 * x] + big[300 + 2 * x + 1]) / 4f;
            assertEquals(mean, out[x], 0f);
        }
    }
}
