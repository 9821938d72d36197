package dev.tessera.runtime.mask;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * The masks of one edit at every resolution the model runs at, finest first (the reference's
 * {@code downsample_mask}, whose result is handed to {@code set_masks}).
 *
 * <p>Level 0 is the full-resolution mask. Each further level halves height and width (floor) and
 * is the bilinear resize of the previous level's <em>float</em> map, not of the original mask and
 * not of the thresholded one. Each level is binarized with {@code t = min(0.3, max - 1e-3)}, so a
 * tiny edit whose interpolated values all fall below 0.3 still keeps its strongest pixels, then
 * dilated (cross-shaped).
 */
public final class MaskPyramid {
    /** The reference's binarization threshold for interpolated levels. */
    public static final float THRESHOLD = 0.3f;
    /** Subtracted from a level's maximum so that the maximum itself passes {@code > t}. */
    public static final float EPS = 1e-3f;

    private final Mask[] masks; // distinct resolutions, finest first for pyramids

    private MaskPyramid(Mask[] masks) {
        this.masks = masks;
    }

    /** {@link #of(Mask, int, int, int)} with the same minimum for height and width. */
    public static MaskPyramid of(Mask full, int minRes, int dilation) {
        return of(full, minRes, minRes, dilation);
    }

    /**
     * Downsamples {@code full} as the reference does: levels H x W, H/2 x W/2, ... until both the
     * height is below {@code minHeight} and the width below {@code minWidth} (so the last level
     * kept has at least one of them at or above its minimum).
     *
     * <p>One deviation: where the halving reaches a zero height or width before that rule stops,
     * the reference fails inside its resize; here the pyramid ends at the last non-empty level.
     *
     * <p>Note that an all-zero mask gives all-ones masks at every level (max 0, so t = -1e-3 and
     * every pixel passes), exactly like the reference: a no-op edit means "recompute everything".
     *
     * @param dilation cross-shaped dilation radius applied at every level (0 for none)
     */
    public static MaskPyramid of(Mask full, int minHeight, int minWidth, int dilation) {
        if (minHeight < 1 || minWidth < 1) throw new IllegalArgumentException("minimum resolution must be >= 1, got " + minHeight + "x" + minWidth);
        if (dilation < 0) throw new IllegalArgumentException("dilation must be >= 0, got " + dilation);
        List<Mask> levels = new ArrayList<>();
        int h = full.height(), w = full.width();
        float[] level = new float[h * w];
        for (int i = 0; i < level.length; i++) level[i] = full.bits[i] ? 1f : 0f;
        while (true) {
            levels.add(DifferenceMask.dilate(binarize(level, h, w), dilation));
            int nh = h / 2, nw = w / 2;
            if (nh < minHeight && nw < minWidth) break;
            if (nh == 0 || nw == 0) break; // the reference would fail here (empty resize)
            level = resizeBilinear(level, h, w, nh, nw);
            h = nh;
            w = nw;
        }
        return new MaskPyramid(levels.toArray(new Mask[0]));
    }

    /**
     * The given masks as they are, one per resolution (the reference's {@code set_masks} with a
     * hand-made dict, as in its {@code example.py}).
     */
    public static MaskPyramid ofMasks(Mask... masks) {
        if (masks.length == 0) throw new IllegalArgumentException("no masks given");
        for (int i = 0; i < masks.length; i++) {
            for (int j = 0; j < i; j++) {
                if (masks[i].height() == masks[j].height() && masks[i].width() == masks[j].width()) {
                    throw new IllegalArgumentException("two masks at resolution " + masks[i].resolution());
                }
            }
        }
        return new MaskPyramid(masks.clone());
    }

    /** {@code level > min(THRESHOLD, max(level) - EPS)}, all in float32 as in the reference. */
    private static Mask binarize(float[] level, int h, int w) {
        float max = Float.NEGATIVE_INFINITY;
        for (float v : level) max = Math.max(max, v);
        float t = max - EPS;
        if (!(t < THRESHOLD)) t = THRESHOLD; // Python's min(0.3, tensor) keeps 0.3 unless tensor < 0.3
        boolean[] bits = new boolean[h * w];
        for (int i = 0; i < bits.length; i++) bits[i] = level[i] > t;
        return new Mask(h, w, bits);
    }

    /**
     * PyTorch's CPU {@code F.interpolate(mode="bilinear", align_corners=False)} of one float32
     * plane, no antialiasing. Source coordinate {@code scale * (dst + 0.5) - 0.5} clamped at 0,
     * {@code scale = in / out}, all in float32. PyTorch picks one of two kernels that sum the four
     * taps in a different order; for the halvings used here every weight is 0.5 (or 1/0 at the
     * edges), so both are exact, but the order is kept anyway so odd sizes round the same way
     * (up to the compiler's use of FMA in PyTorch's build).
     */
    static float[] resizeBilinear(float[] in, int ih, int iw, int oh, int ow) {
        int[] y0 = new int[oh], y1 = new int[oh], x0 = new int[ow], x1 = new int[ow];
        float[] ly0 = new float[oh], ly1 = new float[oh], lx0 = new float[ow], lx1 = new float[ow];
        sourceTaps(ih, oh, y0, y1, ly0, ly1);
        sourceTaps(iw, ow, x0, x1, lx0, lx1);
        // PyTorch's dispatch (_use_vectorized_kernel_cond_2d): small outputs take the channels-last
        // kernel (weights multiplied first), larger ones the generic kernel (rows, then columns).
        boolean productWeights = oh + ow <= 128;
        float[] out = new float[oh * ow];
        for (int oy = 0; oy < oh; oy++) {
            int r0 = y0[oy] * iw, r1 = y1[oy] * iw;
            float h0 = ly0[oy], h1 = ly1[oy];
            for (int ox = 0; ox < ow; ox++) {
                float v00 = in[r0 + x0[ox]], v01 = in[r0 + x1[ox]], v10 = in[r1 + x0[ox]], v11 = in[r1 + x1[ox]];
                float w0 = lx0[ox], w1 = lx1[ox];
                float v;
                if (productWeights) {
                    v = v00 * (h0 * w0) + v01 * (h0 * w1) + v10 * (h1 * w0) + v11 * (h1 * w1);
                } else {
                    float t0 = v00 * w0 + v01 * w1;
                    float t1 = v10 * w0 + v11 * w1;
                    v = t0 * h0 + t1 * h1;
                }
                out[oy * ow + ox] = v;
            }
        }
        return out;
    }

    /** PyTorch's compute_source_index_and_lambda along one axis (align_corners=False). */
    private static void sourceTaps(int in, int out, int[] i0, int[] i1, float[] l0, float[] l1) {
        float scale = (float) in / out;
        for (int o = 0; o < out; o++) {
            if (in == out) {
                i0[o] = o;
                i1[o] = o;
                l0[o] = 1f;
                l1[o] = 0f;
                continue;
            }
            float src = scale * (o + 0.5f) - 0.5f;
            if (src < 0f) src = 0f;
            int i = Math.min((int) Math.floor(src), in - 1);
            float lambda = Math.min(Math.max(src - i, 0f), 1f);
            i0[o] = i;
            i1[o] = i < in - 1 ? i + 1 : i;
            l1[o] = lambda;
            l0[o] = 1f - lambda;
        }
    }

    /** The mask at {@code height x width}; throws listing the resolutions held when there is none. */
    public Mask at(int height, int width) {
        for (Mask m : masks) if (m.height() == height && m.width() == width) return m;
        throw new IllegalArgumentException("no mask at resolution " + height + "x" + width + "; available: " + resolutions());
    }

    public Mask at(Resolution r) {
        return at(r.height(), r.width());
    }

    public boolean contains(int height, int width) {
        for (Mask m : masks) if (m.height() == height && m.width() == width) return true;
        return false;
    }

    /** Number of levels. */
    public int size() {
        return masks.length;
    }

    /** The resolutions held, finest first for a computed pyramid. */
    public List<Resolution> resolutions() {
        List<Resolution> out = new ArrayList<>(masks.length);
        for (Mask m : masks) out.add(m.resolution());
        return Collections.unmodifiableList(out);
    }

    /** The masks, in the order of {@link #resolutions()}. */
    public List<Mask> masks() {
        List<Mask> out = new ArrayList<>(masks.length);
        Collections.addAll(out, masks);
        return Collections.unmodifiableList(out);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("MaskPyramid[");
        for (int i = 0; i < masks.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append(masks[i].height()).append('x').append(masks[i].width()).append(": ").append(masks[i].count());
        }
        return sb.append(']').toString();
    }
}
