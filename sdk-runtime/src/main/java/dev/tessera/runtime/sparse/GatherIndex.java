package dev.tessera.runtime.sparse;

import dev.tessera.runtime.graph.Op;
import org.jspecify.annotations.Nullable;

/**
 * Where each pixel of a gather's tiles reads its value: one int per tile pixel (the same for every
 * channel), built once per plan, so that every backend's gather is one branch-free lookup per
 * element. An entry {@code k >= 0} reads element {@code k} of the source's tiles (per channel),
 * {@link #PADDING} reads zero, and any other entry reads pixel {@link #fullPixel(int)} of a full map.
 */
public final class GatherIndex {
    private GatherIndex() {}

    /** The entry of a pixel outside the map: it reads zero (the conv's zero padding). */
    public static final int PADDING = -1;

    /** The entry that reads pixel {@code pixel} of the full map. */
    public static int full(int pixel) {
        return -2 - pixel;
    }

    /** The full-map pixel an entry below {@link #PADDING} reads. */
    public static int fullPixel(int entry) {
        return -2 - entry;
    }

    /**
     * Tiles of {@code g} read from a full map {@code srcW} pixels wide; with index maps, pixel
     * (y, x) of {@code g}'s map reads {@code src[rowMap[y], colMap[x]]} (a nearest resize read in place).
     */
    public static int[] fromMap(TileGeometry g, int srcW, int @Nullable [] rowMap, int @Nullable [] colMap) {
        int th = g.tileHeight(), tw = g.tileWidth();
        int[] index = new int[g.positions()];
        for (int t = 0, i = 0; t < g.count(); t++) {
            for (int y = 0; y < th; y++) {
                int row = g.row(t) + y;
                for (int x = 0; x < tw; x++, i++) {
                    int col = g.col(t) + x;
                    boolean inside = row >= 0 && row < g.height() && col >= 0 && col < g.width();
                    index[i] = inside ? full((rowMap == null ? row : rowMap[row]) * srcW + (colMap == null ? col : colMap[col])) : PADDING;
                }
            }
        }
        return index;
    }

    /** Tiles of {@code g} read from the full map of the value {@code g} is a nearest resize of ({@code srcH x srcW}). */
    public static int[] fromResize(TileGeometry g, int srcH, int srcW) {
        return fromMap(g, srcW, Op.ResizeNearest.sourceIndex(srcH, g.height()), Op.ResizeNearest.sourceIndex(srcW, g.width()));
    }

    /**
     * Tiles of {@code g} read from a value held as tiles in {@code from}: a pixel covered by one of
     * those tiles reads it (the last one that covers it), any other the value's cached full map.
     * Costs in proportion to the tiles' bounding box, not the map.
     */
    public static int[] fromTiles(TileGeometry from, TileGeometry g) {
        int[] index = fromMap(g, g.width(), null, null);
        int top = Integer.MAX_VALUE, left = Integer.MAX_VALUE, bottom = 0, right = 0; // in-map pixels of g's tiles
        for (int t = 0; t < g.count(); t++) {
            top = Math.min(top, Math.max(0, g.row(t)));
            left = Math.min(left, Math.max(0, g.col(t)));
            bottom = Math.max(bottom, Math.min(g.height(), g.row(t) + g.tileHeight()));
            right = Math.max(right, Math.min(g.width(), g.col(t) + g.tileWidth()));
        }
        if (top >= bottom || left >= right) return index;
        int boxW = right - left, fth = from.tileHeight(), ftw = from.tileWidth();
        int[] covering = new int[(bottom - top) * boxW]; // box pixel -> 1 + its index in from's tiles, 0 if none
        for (int t = 0; t < from.count(); t++) {
            for (int y = Math.max(top, from.row(t)); y < Math.min(bottom, from.row(t) + fth); y++) {
                for (int x = Math.max(left, from.col(t)); x < Math.min(right, from.col(t) + ftw); x++) {
                    covering[(y - top) * boxW + x - left] = 1 + (t * fth + y - from.row(t)) * ftw + x - from.col(t);
                }
            }
        }
        for (int i = 0; i < index.length; i++) {
            if (index[i] == PADDING) continue;
            int pixel = fullPixel(index[i]), y = pixel / g.width(), x = pixel % g.width();
            int k = covering[(y - top) * boxW + x - left];
            if (k > 0) index[i] = k - 1;
        }
        return index;
    }
}
