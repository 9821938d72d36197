package dev.tessera.runtime.sparse;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.tessera.runtime.mask.ActiveBlocks;
import dev.tessera.runtime.mask.BlockKey;
import dev.tessera.runtime.mask.Mask;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Gather index maps against what they stand for: scatter the tiles into the map, then read the map. */
class GatherIndexTest {

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3, 4, 5, 6, 7, 8})
    void readingThroughTilesEqualsScatteringThenGathering(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int h = 8 + r.nextInt(24), w = 8 + r.nextInt(24);
        // A 3x3 conv's tiles (its output blocks: what a gather over tiles reads) and the next conv's input tiles.
        TileGeometry from = geometry(h, w, r, 4).convOutput(h, w, 3, 3, 1, 1, 1);
        TileGeometry g = geometry(h, w, r, 4);

        float[] cached = new float[h * w], tiles = new float[from.positions()];
        for (int i = 0; i < cached.length; i++) cached[i] = 1000 + i;
        for (int i = 0; i < tiles.length; i++) tiles[i] = -1 - i;
        float[] map = cached.clone(); // the tiles scattered over the cached map, in tile order
        for (int t = 0, i = 0; t < from.count(); t++) {
            for (int y = 0; y < from.tileHeight(); y++) {
                for (int x = 0; x < from.tileWidth(); x++, i++) {
                    int row = from.row(t) + y, col = from.col(t) + x;
                    if (row >= 0 && row < h && col >= 0 && col < w) map[row * w + col] = tiles[i];
                }
            }
        }

        int[] overTiles = GatherIndex.fromTiles(from, g), overMap = GatherIndex.fromMap(g, w, null, null);
        assertEquals(g.positions(), overTiles.length);
        for (int i = 0; i < overTiles.length; i++) {
            assertEquals(read(overMap[i], null, map), read(overTiles[i], tiles, cached), "seed " + seed + ", tile pixel " + i);
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void readingThroughAResizeEqualsResizingThenGathering(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int srcH = 4 + r.nextInt(8), srcW = 4 + r.nextInt(8), h = srcH * 2, w = srcW * 2;
        TileGeometry g = geometry(h, w, r, 4);
        float[] src = new float[srcH * srcW];
        for (int i = 0; i < src.length; i++) src[i] = i;
        float[] resized = new float[h * w]; // nearest, as PyTorch picks sources
        for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) resized[y * w + x] = src[(y * srcH / h) * srcW + x * srcW / w];

        int[] throughResize = GatherIndex.fromResize(g, srcH, srcW), plain = GatherIndex.fromMap(g, w, null, null);
        for (int i = 0; i < plain.length; i++) assertEquals(read(plain[i], null, resized), read(throughResize[i], null, src));
    }

    /** What a gather writes for one entry: a tile element, zero for padding, or a map pixel. */
    private static float read(int entry, float[] tiles, float[] map) {
        if (entry >= 0) return tiles[entry];
        return entry == GatherIndex.PADDING ? 0f : map[GatherIndex.fullPixel(entry)];
    }

    /** The 6x6 input tiles (4x4 blocks with a one-pixel halo) of a random mask, some at the borders. */
    private static TileGeometry geometry(int h, int w, SplittableRandom r, int block) {
        boolean[] pixels = new boolean[h * w];
        for (int i = 0; i < pixels.length; i++) pixels[i] = r.nextInt(6) == 0;
        BlockKey key = BlockKey.forConv(h, w, 3, 3, 1, 1, 1, 1, block, block);
        return TileGeometry.of(ActiveBlocks.of(Mask.of(h, w, pixels), key));
    }
}
