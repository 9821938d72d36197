package dev.tessera.runtime.mask;

import dev.tessera.InvalidInputException;
import dev.tessera.runtime.tensor.Ranges;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;

/**
 * Where an edit changed the input: {@code |edited - original| > eps} on any channel, then a
 * cross-shaped dilation (the reference's {@code compute_difference_mask} and {@code dilate_mask}).
 */
public final class DifferenceMask {
    private DifferenceMask() {}

    /**
     * The dilated difference mask of two inputs of equal shape [1, C, H, W], [C, H, W] or [H, W].
     *
     * @param eps a pixel is changed where some channel differs by more than this (float32 compare)
     * @param dilationRadius the cross-shaped dilation radius, 0 for none
     * @throws InvalidInputException if the shapes differ, the batch is not 1, or a value is NaN or infinite
     */
    public static Mask of(Tensor original, Tensor edited, float eps, int dilationRadius) {
        return dilate(changed(original, edited, eps), dilationRadius);
    }

    /** The undilated difference mask: set where {@code |edited - original| > eps} on any channel. */
    public static Mask changed(Tensor original, Tensor edited, float eps) {
        if (!(eps >= 0f)) throw new IllegalArgumentException("eps must be >= 0, got " + eps);
        Shape s = original.shape();
        if (!s.equals(edited.shape())) {
            throw new InvalidInputException("original and edited inputs differ in shape: original " + s + ", edited " + edited.shape());
        }
        int r = s.rank();
        if (r < 2 || r > 4 || (r == 4 && s.dim(0) != 1)) {
            throw new InvalidInputException("a difference mask needs inputs of shape [1, C, H, W], [C, H, W] or [H, W], got " + s);
        }
        int h = s.dim(r - 2), w = s.dim(r - 1), c = r == 2 ? 1 : s.dim(r - 3);
        if (h == 0 || w == 0) throw new InvalidInputException("input " + s + " has no pixels");
        int plane = h * w;
        FloatBuffer a = original.data(), b = edited.data();
        boolean[] bits = new boolean[plane];
        // Ranges of pixels on the cores: GauGAN's 36-channel 256x512 input took 7-9 ms on one.
        Ranges parts = Ranges.of(plane, PARALLEL_VALUES / c, 1);
        long bad = parts.indices().mapToLong(k -> markChanged(a, b, c, plane, eps, bits, (int) parts.start(k), (int) parts.end(k)))
                .filter(i -> i >= 0).min().orElse(-1);
        if (bad >= 0) checkFinite(a.get((int) bad), b.get((int) bad), (int) (bad / plane), (int) (bad % plane), w, s); // throws
        return new Mask(h, w, bits);
    }

    /** Below this many values a difference mask is computed on the calling thread. */
    private static final int PARALLEL_VALUES = 1 << 18;

    /**
     * Sets bits[p] for the pixels p in [from, to) where some channel differs by more than eps;
     * returns the first index (ch * plane + p) holding a value that is not finite, or -1.
     */
    private static long markChanged(FloatBuffer a, FloatBuffer b, int channels, int plane, float eps, boolean[] bits, int from, int to) {
        long bad = -1;
        for (int ch = 0; ch < channels; ch++) {
            int base = ch * plane;
            for (int p = from; p < to; p++) {
                float va = a.get(base + p), vb = b.get(base + p);
                float d = Math.abs(vb - va);
                if (d > eps) {
                    // Infinity here is either an overflowing difference of finite values (changed) or an
                    // infinite input (rejected by the caller); NaN never compares, so it is checked separately.
                    if (d == Float.POSITIVE_INFINITY && bad < 0 && !(Float.isFinite(va) && Float.isFinite(vb))) bad = base + p;
                    bits[p] = true;
                } else if (d != d && bad < 0) {
                    bad = base + p;
                }
            }
        }
        return bad;
    }

    private static void checkFinite(float original, float edited, int ch, int p, int w, Shape s) {
        if (Float.isFinite(original) && Float.isFinite(edited)) return;
        String which = Float.isFinite(original) ? "edited" : "original";
        throw new InvalidInputException(which + " input " + s + " holds " + (Float.isFinite(original) ? edited : original)
                + " at channel " + ch + ", pixel (" + p / w + ", " + p % w + ")");
    }

    /**
     * Cross-shaped dilation: a pixel is set if a set pixel of {@code m} lies at most {@code radius}
     * pixels straight above, below, left or right of it (the reference's {@code dilate_mask}; not
     * a square window: diagonal neighbours are not reached).
     */
    public static Mask dilate(Mask m, int radius) {
        return dilate(m, radius, radius);
    }

    /** Cross-shaped dilation with {@code radiusH} along columns (up/down) and {@code radiusW} along rows. */
    public static Mask dilate(Mask m, int radiusH, int radiusW) {
        if (radiusH < 0 || radiusW < 0) throw new IllegalArgumentException("dilation radius must be >= 0, got " + radiusH + ", " + radiusW);
        if ((radiusH == 0 && radiusW == 0) || m.count() == 0) return m;
        int h = m.height(), w = m.width();
        boolean[] src = m.bits, dst = src.clone();
        // Paint the cross of every set source pixel: cost ~ count * (2rh + 2rw), and masks are sparse.
        for (int y = 0; y < h; y++) {
            int row = y * w;
            for (int x = 0; x < w; x++) {
                if (!src[row + x]) continue;
                int y0 = Math.max(0, y - radiusH), y1 = Math.min(h - 1, y + radiusH);
                for (int yy = y0; yy <= y1; yy++) dst[yy * w + x] = true;
                int x0 = Math.max(0, x - radiusW), x1 = Math.min(w - 1, x + radiusW);
                for (int xx = x0; xx <= x1; xx++) dst[row + xx] = true;
            }
        }
        return new Mask(h, w, dst);
    }
}
