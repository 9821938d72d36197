package dev.tessera.runtime.mask;

import java.util.Arrays;

/**
 * The origins (row, col) of the blocks a sparse layer computes for one mask and one
 * {@link BlockKey} (the reference's {@code reduce_mask}). Block {@code (i, j)} of the pooled grid
 * covers input rows {@code [strideH*i - offH, strideH*i - offH + blockH)} (columns likewise) and is
 * active if any mask pixel in it is set. Origins are listed in row-major order of the grid and may
 * be negative or reach past the image: those pixels are the conv's zero padding. Immutable.
 */
public final class ActiveBlocks {
    private final BlockKey key;
    private final int[] origins; // interleaved (row, col), the reference's int32 [N, 2] layout

    private ActiveBlocks(BlockKey key, int[] origins) {
        this.key = key;
        this.origins = origins;
    }

    /** The active blocks of {@code mask}, whose size must be the key's resolution. */
    public static ActiveBlocks of(Mask mask, BlockKey key) {
        int h = mask.height(), w = mask.width();
        if (h != key.resHeight() || w != key.resWidth()) {
            throw new IllegalArgumentException("mask " + h + "x" + w + " does not match the block key " + key);
        }
        int bh = key.blockHeight(), bw = key.blockWidth(), sh = key.strideHeight(), sw = key.strideWidth();
        int oh = key.offsetHeight(), ow = key.offsetWidth();
        int gh = key.gridHeight(), gw = key.gridWidth();
        if (mask.isEmpty()) return new ActiveBlocks(key, new int[0]);
        boolean[] bits = mask.bits;
        boolean[] band = new boolean[w]; // OR of the mask rows one grid row covers
        int[] out = new int[2 * gh * gw];
        int n = 0;
        for (int i = 0; i < gh; i++) {
            int y0 = sh * i - oh;
            int ya = Math.max(y0, 0), yb = Math.min(y0 + bh, h); // rows outside the mask are padding (0)
            if (ya >= yb) continue;
            Arrays.fill(band, false);
            boolean any = false;
            for (int y = ya; y < yb; y++) {
                int row = y * w;
                for (int x = 0; x < w; x++) {
                    if (bits[row + x]) {
                        band[x] = true;
                        any = true;
                    }
                }
            }
            if (!any) continue;
            for (int j = 0; j < gw; j++) {
                int x0 = sw * j - ow;
                int xa = Math.max(x0, 0), xb = Math.min(x0 + bw, w);
                for (int x = xa; x < xb; x++) {
                    if (band[x]) {
                        out[n++] = y0;
                        out[n++] = x0;
                        break;
                    }
                }
            }
        }
        return new ActiveBlocks(key, Arrays.copyOf(out, n));
    }

    public BlockKey key() {
        return key;
    }

    /** Number of active blocks. */
    public int count() {
        return origins.length / 2;
    }

    public boolean isEmpty() {
        return origins.length == 0;
    }

    /** Top row of block {@code i} (may be negative). */
    public int row(int i) {
        return origins[2 * i];
    }

    /** Left column of block {@code i} (may be negative). */
    public int col(int i) {
        return origins[2 * i + 1];
    }

    /** Active blocks over all blocks of the pooled grid, in [0, 1]. */
    public double fraction() {
        return (double) count() / ((double) key.gridHeight() * key.gridWidth());
    }

    /** The origins as {@code [row0, col0, row1, col1, ...]} (a copy), the layout of an int32 [N, 2] tensor. */
    public int[] toArray() {
        return origins.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ActiveBlocks a && a.key.equals(key) && Arrays.equals(a.origins, origins);
    }

    @Override
    public int hashCode() {
        return 31 * key.hashCode() + Arrays.hashCode(origins);
    }

    @Override
    public String toString() {
        return "ActiveBlocks[" + key + ", " + count() + "/" + key.gridHeight() * key.gridWidth() + " blocks]";
    }
}
