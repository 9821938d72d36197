package dev.tessera.runtime.cpu;

import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.GatherIndex;
import dev.tessera.runtime.sparse.TileGeometry;
import dev.tessera.runtime.tensor.Half;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import org.jspecify.annotations.Nullable;

/**
 * CPU kernels of the sparse pass. Tiled values are channel-major {@code [C, tiles, th, tw]}
 * ({@link TileGeometry}); full maps are single-sample NCHW.
 */
final class CpuTileKernels {
    private CpuTileKernels() {}

    /**
     * Tiles {@code out} [C, positions] read through {@code index} ({@link GatherIndex}): from {@code tiles} [C, tilePositions] or from the full map, given
     * as float32 {@code full32} or float16 {@code full16} [C, plane].
     */
    static void gather(int[] index, @Nullable FloatBuffer tiles, int tilePositions, @Nullable FloatBuffer full32,
            @Nullable ShortBuffer full16, int plane, Tensor out) {
        int positions = index.length;
        if (positions == 0) return;
        FloatBuffer o = out.data();
        Parallel.forEach(out.size() / positions, c -> {
            int tileBase = c * tilePositions, planeBase = c * plane, outBase = c * positions;
            for (int i = 0; i < positions; i++) {
                int k = index[i];
                float v;
                if (k >= 0) v = tiles.get(tileBase + k);
                else if (k == GatherIndex.PADDING) v = 0f;
                else {
                    int at = planeBase + GatherIndex.fullPixel(k);
                    v = full32 != null ? full32.get(at) : Half.toFloat(full16.get(at));
                }
                o.put(outBase + i, v);
            }
        });
    }

    /** Writes the in-map pixels of each tile into the full map {@code dst} [1, C, H, W]. */
    static void scatter(Tensor tiles, TileGeometry g, Tensor dst) {
        if (g.count() == 0) return;
        int channels = dst.shape().c(), h = g.height(), w = g.width();
        int th = g.tileHeight(), tw = g.tileWidth(), positions = g.positions();
        FloatBuffer src = tiles.data(), d = dst.data();
        Parallel.forEach(channels, c -> {
            for (int t = 0; t < g.count(); t++) {
                for (int y = Math.max(0, -g.row(t)); y < th && g.row(t) + y < h; y++) {
                    int from = c * positions + (t * th + y) * tw;
                    int to = (c * h + g.row(t) + y) * w + g.col(t);
                    for (int x = Math.max(0, -g.col(t)); x < tw && g.col(t) + x < w; x++) d.put(to + x, src.get(from + x));
                }
            }
        });
    }

    /** Restores the pixels under {@code g}'s tiles in {@code dst} from the cached map. */
    static void restore(ActivationCache.Map32 base, TileGeometry g, Tensor dst) {
        if (g.count() == 0) return;
        int channels = dst.shape().c(), h = g.height(), w = g.width();
        FloatBuffer fp32 = base.fp32();
        Parallel.forEach(channels, c -> {
            FloatBuffer from = fp32 == null ? null : fp32.duplicate(), to = dst.data().duplicate();
            for (int t = 0; t < g.count(); t++) {
                int x0 = Math.max(0, g.col(t)), x1 = Math.min(w, g.col(t) + g.tileWidth());
                if (x1 <= x0) continue;
                for (int y = Math.max(0, g.row(t)); y < Math.min(h, g.row(t) + g.tileHeight()); y++) {
                    int at = (c * h + y) * w + x0;
                    if (from != null) CpuKernels.copy(from, at, to, at, x1 - x0);
                    else base.copyTo(at, dst.data(), at, x1 - x0);
                }
            }
        });
    }

    /**
     * A padding-free convolution of every tile: one GEMM per panel of tiles,
     * {@code out[Cout, tiles*oh*ow] = W[Cout, Cin*kh*kw] x cols}.
     */
    static void conv(Op.Conv2d op, Tensor in, TileGeometry g, Tensor out, TileGeometry og, FloatBuffer cols) {
        if (g.count() == 0) return;
        int cin = op.inChannels(), cout = op.outChannels(), kh = op.kernelH(), kw = op.kernelW(), s = op.stride();
        int k = cin * kh * kw;
        int oh = og.tileHeight(), ow = og.tileWidth(), outPositions = og.positions();
        FloatBuffer weight = op.weight().data();
        if (kh == 1 && kw == 1 && s == 1) {
            Blas.sgemm(false, false, cout, outPositions, k, 1f, weight, 0, k, in.data(), 0, outPositions, 0f, out.data(), 0, outPositions);
        } else {
            int perTile = oh * ow;
            int tilesPerPanel = Math.max(1, Math.min(g.count(), CpuKernels.IM2COL_PANEL_FLOATS / (k * perTile)));
            for (int t0 = 0; t0 < g.count(); t0 += tilesPerPanel) {
                int tiles = Math.min(tilesPerPanel, g.count() - t0);
                im2col(op, in.data(), g, t0, tiles, oh, ow, cols);
                Blas.sgemm(false, false, cout, tiles * perTile, k, 1f, weight, 0, k, cols, 0, tiles * perTile,
                        0f, out.data(), t0 * perTile, outPositions);
            }
        }
        if (op.bias() != null) {
            FloatBuffer y = out.data(), bias = op.bias().data();
            Parallel.forEach(cout, c -> {
                float b = bias.get(c);
                for (int i = c * outPositions, end = i + outPositions; i < end; i++) y.put(i, y.get(i) + b);
            });
        }
    }

    /**
     * Rows (c, i, j) of the im2col matrix of tiles {@code [t0, t0+tiles)}, a channel per task: its
     * tiles are copied once into a heap array, each row is built there and written back in bulk
     * (element-wise access to native buffers costs a bounds check per float).
     */
    private static void im2col(Op.Conv2d op, FloatBuffer x, TileGeometry g, int t0, int tiles, int oh, int ow, FloatBuffer cols) {
        int kh = op.kernelH(), kw = op.kernelW(), s = op.stride();
        int th = g.tileHeight(), tw = g.tileWidth(), positions = g.positions(), perTile = th * tw;
        int panel = tiles * oh * ow;
        Parallel.forEach(op.inChannels(), c -> {
            Scratch scratch = SCRATCH.get();
            float[] src = scratch.floats(0, tiles * perTile), row = scratch.floats(1, panel);
            FloatBuffer in = x.duplicate(), out = cols.duplicate();
            CpuKernels.copyInto(in, c * positions + t0 * perTile, src, tiles * perTile);
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    int d = 0;
                    if (s == 1) {
                        for (int t = 0; t < tiles; t++) {
                            for (int y = 0, from = t * perTile + i * tw + j; y < oh; y++, from += tw, d += ow) {
                                System.arraycopy(src, from, row, d, ow);
                            }
                        }
                    } else {
                        for (int t = 0; t < tiles; t++) {
                            for (int y = 0; y < oh; y++) {
                                int from = t * perTile + (y * s + i) * tw + j;
                                for (int xo = 0; xo < ow; xo++) row[d++] = src[from + xo * s];
                            }
                        }
                    }
                    CpuKernels.copyFrom(row, out, ((c * kh + i) * kw + j) * panel, panel);
                }
            }
        });
    }

    /** Per-thread heap arrays, grown on demand, so kernels allocate nothing in steady state. */
    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private static final class Scratch {
        private final float[][] arrays = new float[2][0];

        float[] floats(int slot, int count) {
            if (arrays[slot].length < count) arrays[slot] = new float[count];
            return arrays[slot];
        }
    }

    /** Sets the pixels of tiles that lie outside the map to zero (after an op that does not keep 0 at 0). */
    static void zeroPadding(Tensor tiles, TileGeometry g) {
        if (g.count() == 0 || !g.hasPadding()) return;
        int channels = tiles.size() / g.positions(), th = g.tileHeight(), tw = g.tileWidth(), positions = g.positions();
        FloatBuffer d = tiles.data();
        Parallel.forEach(channels, c -> {
            for (int t = 0; t < g.count(); t++) {
                for (int y = 0; y < th; y++) {
                    int row = g.row(t) + y;
                    boolean rowOut = row < 0 || row >= g.height();
                    for (int x = 0; x < tw; x++) {
                        int col = g.col(t) + x;
                        if (rowOut || col < 0 || col >= g.width()) d.put(c * positions + (t * th + y) * tw + x, 0f);
                    }
                }
            }
        });
    }

    /**
     * Attention for the query pixels of the tiles only: keys and values are the whole (edited) map.
     * {@code index} is {@code g}'s {@link #gatherIndex}; {@code scores} needs positions x tokens floats,
     * {@code queries} C x positions.
     */
    static void attention(Tensor qkv, TileGeometry g, int[] index, Tensor out, FloatBuffer queries, FloatBuffer scores) {
        if (g.count() == 0) return;
        int c = qkv.shape().c() / 3, h = qkv.shape().h(), w = qkv.shape().w(), tokens = h * w;
        int p = g.positions();
        gather(index, null, 0, qkv.data(), null, tokens, Tensor.wrap(Shape.of(c, p), queries));
        // scores[i, j] = sum_c q[c, i] k[c, j] / sqrt(C)
        Blas.sgemm(true, false, p, tokens, c, (float) (1.0 / Math.sqrt(c)), queries, 0, p, qkv.data(), c * tokens, tokens, 0f, scores, 0, tokens);
        Parallel.forEach(p, i -> CpuKernels.softmaxRow(scores, i * tokens, tokens));
        // out[c, i] = sum_j v[c, j] scores[i, j]
        Blas.sgemm(false, true, c, p, tokens, 1f, qkv.data(), 2 * c * tokens, tokens, scores, 0, tokens, 0f, out.data(), 0, p);
    }
}
