package dev.tessera.runtime.sparse;

import dev.tessera.runtime.mask.ActiveBlocks;
import dev.tessera.runtime.mask.BlockKey;
import java.util.Arrays;

/**
 * Where the tiles of one value sit: the size of the value's full map, the tile size, and each
 * tile's top-left corner in map coordinates (possibly negative, or reaching past the bottom and
 * right edges: those pixels are zero padding). A tiled value is stored channel-major,
 * {@code [C, tiles, tileHeight, tileWidth]}, so a convolution over all tiles is one GEMM and a
 * channel slice is a contiguous range.
 */
public final class TileGeometry {
    private final int height, width, tileHeight, tileWidth;
    private final int[] origins; // row0, col0, row1, col1, ...
    private final boolean hasPadding;

    private TileGeometry(int height, int width, int tileHeight, int tileWidth, int[] origins) {
        this.height = height;
        this.width = width;
        this.tileHeight = tileHeight;
        this.tileWidth = tileWidth;
        this.origins = origins;
        boolean padding = false;
        for (int i = 0; i < origins.length; i += 2) {
            padding |= origins[i] < 0 || origins[i + 1] < 0 || origins[i] + tileHeight > height || origins[i + 1] + tileWidth > width;
        }
        this.hasPadding = padding;
    }

    /** The input tiles of a conv gather: the active blocks themselves. */
    public static TileGeometry of(ActiveBlocks blocks) {
        BlockKey k = blocks.key();
        return new TileGeometry(k.resHeight(), k.resWidth(), k.blockHeight(), k.blockWidth(), blocks.toArray());
    }

    /**
     * The output tiles of a padding-free conv over these input tiles: each block at {@code o} yields
     * a tile at {@code (o + padding) / stride} of size {@code (tile - kernel) / stride + 1}.
     */
    public TileGeometry convOutput(int outHeight, int outWidth, int kernelH, int kernelW, int stride, int padTop, int padLeft) {
        int[] out = new int[origins.length];
        for (int i = 0; i < count(); i++) {
            out[2 * i] = (origins[2 * i] + padTop) / stride;
            out[2 * i + 1] = (origins[2 * i + 1] + padLeft) / stride;
        }
        return new TileGeometry(outHeight, outWidth, (tileHeight - kernelH) / stride + 1, (tileWidth - kernelW) / stride + 1, out);
    }

    public int height() { return height; }
    public int width() { return width; }
    public int tileHeight() { return tileHeight; }
    public int tileWidth() { return tileWidth; }
    public int count() { return origins.length / 2; }
    public int row(int tile) { return origins[2 * tile]; }
    public int col(int tile) { return origins[2 * tile + 1]; }

    /** Puts the corners (row0, col0, row1, col1, ...) into {@code dst} at its position (for uploads to a device). */
    public void writeOrigins(java.nio.IntBuffer dst) {
        dst.put(origins);
    }

    /** Floats per channel: tiles x tileHeight x tileWidth. */
    public int positions() {
        return count() * tileHeight * tileWidth;
    }

    /** Whether any tile reaches outside the map (then pointwise ops must keep those pixels zero). */
    public boolean hasPadding() {
        return hasPadding;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TileGeometry g && g.height == height && g.width == width && g.tileHeight == tileHeight
                && g.tileWidth == tileWidth && Arrays.equals(g.origins, origins);
    }

    @Override
    public int hashCode() {
        return ((height * 31 + width) * 31 + tileHeight * 7 + tileWidth) * 31 + Arrays.hashCode(origins);
    }

    @Override
    public String toString() {
        return count() + " tiles " + tileHeight + "x" + tileWidth + " in " + height + "x" + width;
    }
}
