package dev.tessera.runtime.mask;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import org.junit.jupiter.api.Test;

class ActiveBlocksTest {
    @Test
    void blockKeyRounding() {
        BlockKey k = BlockKey.forConv(64, 64, 3, 2, 1, 6);
        assertEquals(5, k.blockHeight());
        assertEquals(5, k.blockWidth());
        assertEquals(4, k.strideHeight());
        assertEquals(1, k.offsetHeight());
        assertEquals("res64x64_b5x5_s4x4_o1x1", k.toString());
        assertEquals("res64x64_b6x6_s4x4_o1x1", BlockKey.forConv(64, 64, 3, 1, 1, 6).toString());
        assertEquals("res32x32_b4x4_s4x4_o0x0", BlockKey.forConv(32, 32, 1, 1, 0, 4).toString());
        assertEquals("res32x32_b5x5_s4x4_o0x0", BlockKey.forConv(32, 32, 3, 2, 0, 6).toString());
        // Kernel larger than the block: one output per block.
        assertEquals("res8x8_b5x5_s1x1_o2x2", BlockKey.forConv(8, 8, 5, 1, 2, 3).toString());
        // Stride larger than the kernel: blocks leave gaps (pixels no output reads).
        assertEquals("res8x8_b3x3_s4x4_o0x0", BlockKey.forConv(8, 8, 1, 2, 0, 4).toString());
        assertEquals("res16x32_b6x4_s4x4_o1x0", BlockKey.forConv(16, 32, 3, 1, 1, 1, 1, 0, 6, 4).toString());
    }

    @Test
    void blockKeyParsing() {
        BlockKey k = new BlockKey(128, 256, 6, 6, 4, 4, 1, 1);
        assertEquals(k, BlockKey.parse("res128x256_b6x6_s4x4_o1x1"));
        assertEquals(k, BlockKey.parse(k.toString()));
        assertEquals(new Resolution(128, 256), k.resolution());
        assertEquals(33, k.gridHeight()); // (128 + 1) / 4 + 1
        assertEquals(65, k.gridWidth());
        assertThrows(IllegalArgumentException.class, () -> BlockKey.parse("res128x256_b6x6_s4x4"));
        assertThrows(IllegalArgumentException.class, () -> new BlockKey(8, 8, 0, 3, 1, 1, 0, 0));
        assertThrows(IllegalArgumentException.class, () -> new BlockKey(8, 8, 3, 3, 1, 1, -1, 0));
    }

    @Test
    void emptyMaskGivesNoBlocks() {
        ActiveBlocks b = ActiveBlocks.of(Mask.empty(64, 64), BlockKey.forConv(64, 64, 3, 1, 1, 6));
        assertEquals(0, b.count());
        assertTrue(b.isEmpty());
        assertEquals(0, b.toArray().length);
    }

    @Test
    void fullMaskGivesTheWholeGrid() {
        int[][] shapes = {{64, 64}, {1, 1}, {7, 13}, {30, 18}};
        for (int[] s : shapes) {
            for (BlockKey k : new BlockKey[] {BlockKey.forConv(s[0], s[1], 3, 1, 1, 6), BlockKey.forConv(s[0], s[1], 1, 1, 0, 4),
                    BlockKey.forConv(s[0], s[1], 3, 2, 1, 6), BlockKey.forConv(s[0], s[1], 1, 2, 0, 4)}) {
                ActiveBlocks b = ActiveBlocks.of(Mask.full(s[0], s[1]), k);
                // Every cell whose window overlaps the image; the last row/column of the pooled grid
                // starts at stride * (g - 1) - offset, which may lie past the image (a window of padding).
                int rows = 0, cols = 0;
                for (int i = 0; i < k.gridHeight(); i++) if (k.strideHeight() * i - k.offsetHeight() < s[0]) rows++;
                for (int j = 0; j < k.gridWidth(); j++) if (k.strideWidth() * j - k.offsetWidth() < s[1]) cols++;
                assertEquals(rows * cols, b.count(), k.toString());
                assertArrayEquals(pooled(Mask.full(s[0], s[1]), k), b.toArray(), k.toString());
                assertEquals(-k.offsetHeight(), b.row(0));
                assertEquals(-k.offsetWidth(), b.col(0));
            }
        }
        // 64x64, 3x3 stride 1, block 6: a 17 x 17 grid, all active.
        ActiveBlocks b = ActiveBlocks.of(Mask.full(64, 64), BlockKey.forConv(64, 64, 3, 1, 1, 6));
        assertEquals(17 * 17, b.count());
        assertEquals(1.0, b.fraction());
        assertEquals(63, b.row(b.count() - 1));
    }

    @Test
    void oneSetPixelNeedsEveryBlockThatCoversIt() {
        boolean[] px = new boolean[16 * 16];
        px[5 * 16 + 9] = true;
        ActiveBlocks b = ActiveBlocks.of(Mask.of(16, 16, px), BlockKey.forConv(16, 16, 3, 1, 1, 6));
        // Blocks of 6 start every 4 pixels at -1, 3, 7, ... and cover [-1, 5), [3, 9), [7, 13), ...:
        // row 5 lies only in [3, 9), column 9 only in [7, 13), so one block, at (3, 7).
        assertArrayEquals(new int[] {3, 7}, b.toArray());
        px[4 * 16 + 8] = true; // row 4 is in blocks -1 and 3; column 8 in 3 and 7
        ActiveBlocks c = ActiveBlocks.of(Mask.of(16, 16, px), BlockKey.forConv(16, 16, 3, 1, 1, 6));
        assertArrayEquals(new int[] {-1, 3, -1, 7, 3, 3, 3, 7}, c.toArray());
    }

    @Test
    void matchesPaddedMaxPool() {
        int[][] shapes = {{1, 1}, {1, 9}, {5, 5}, {17, 31}, {64, 64}, {33, 70}};
        int[][] convs = {{3, 1, 1, 6}, {1, 1, 0, 4}, {3, 2, 1, 6}, {3, 2, 0, 6}, {1, 2, 0, 4}, {5, 1, 2, 8}, {3, 1, 1, 2}};
        long seed = 100;
        for (int[] s : shapes) {
            for (int[] c : convs) {
                for (double density : new double[] {0.002, 0.02, 0.3}) {
                    Mask m = MaskAssert.randomMask(s[0], s[1], density, seed++);
                    BlockKey k = BlockKey.forConv(s[0], s[1], c[0], c[1], c[2], c[3]);
                    assertArrayEquals(pooled(m, k), ActiveBlocks.of(m, k).toArray(), k + " density " + density);
                }
            }
        }
    }

    @Test
    void resolutionMustMatch() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ActiveBlocks.of(Mask.full(32, 32), BlockKey.forConv(64, 64, 3, 1, 1, 6)));
        assertTrue(e.getMessage().contains("32x32") && e.getMessage().contains("res64x64"), e.getMessage());
    }

    @Test
    void blockSetsComputeEachKeyOnce() {
        MaskPyramid p = MaskPyramid.of(MaskAssert.randomMask(64, 64, 0.01, 3), 16, 1);
        BlockSets sets = new BlockSets(p);
        ActiveBlocks a = sets.get(BlockKey.forConv(64, 64, 3, 1, 1, 6));
        assertSame(a, sets.get(BlockKey.parse("res64x64_b6x6_s4x4_o1x1")));
        ActiveBlocks b = sets.get(BlockKey.forConv(32, 32, 3, 1, 1, 6));
        assertNotSame(a, b);
        assertEquals(ActiveBlocks.of(p.at(32, 32), b.key()), b);
        assertEquals(2, sets.size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> sets.get(BlockKey.forConv(8, 8, 3, 1, 1, 6)));
        assertTrue(e.getMessage().contains("64x64, 32x32, 16x16"), e.getMessage());
        assertSame(p, sets.masks());
    }

    /** The reference, literally: zero-pad (offset top/left, block bottom/right), max-pool, nonzero cells. */
    static int[] pooled(Mask m, BlockKey k) {
        int h = m.height(), w = m.width();
        int ph = k.offsetHeight() + h + k.blockHeight(), pw = k.offsetWidth() + w + k.blockWidth();
        boolean[] padded = new boolean[ph * pw];
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) padded[(y + k.offsetHeight()) * pw + x + k.offsetWidth()] = m.get(y, x);
        int gh = (ph - k.blockHeight()) / k.strideHeight() + 1, gw = (pw - k.blockWidth()) / k.strideWidth() + 1;
        assertEquals(k.gridHeight(), gh);
        assertEquals(k.gridWidth(), gw);
        int[] out = new int[2 * gh * gw];
        int n = 0;
        for (int i = 0; i < gh; i++) {
            for (int j = 0; j < gw; j++) {
                boolean any = false;
                for (int dy = 0; dy < k.blockHeight(); dy++) {
                    for (int dx = 0; dx < k.blockWidth(); dx++) {
                        any |= padded[(i * k.strideHeight() + dy) * pw + j * k.strideWidth() + dx];
                    }
                }
                if (any) {
                    out[n++] = k.strideHeight() * i - k.offsetHeight();
                    out[n++] = k.strideWidth() * j - k.offsetWidth();
                }
            }
        }
        return Arrays.copyOf(out, n);
    }
}
