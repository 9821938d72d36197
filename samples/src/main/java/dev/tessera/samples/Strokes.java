package dev.tessera.samples;

import dev.tessera.runtime.mask.DifferenceMask;
import dev.tessera.runtime.mask.Mask;
import java.util.SplittableRandom;

/** Deterministic brush strokes: an irregular region that a user might paint. */
final class Strokes {
    private Strokes() {}

    /**
     * Paints discs along a random walk until the painted region, dilated by {@code dilation} (as the
     * difference mask will be), covers {@code fraction} of the map.
     */
    static Mask paint(int h, int w, double fraction, int dilation, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        boolean[] painted = new boolean[h * w];
        int radius = Math.max(2, Math.min(h, w) / 32);
        double y = h * (0.3 + 0.4 * r.nextDouble()), x = w * (0.3 + 0.4 * r.nextDouble()), angle = r.nextDouble() * 2 * Math.PI;
        Mask m = Mask.of(h, w, painted);
        while (DifferenceMask.dilate(m, dilation).fraction() < fraction) { // one disc at a time: fine steps near the target
            angle += r.nextDouble() - 0.5;
            y = Math.min(h - 1, Math.max(0, y + radius * Math.sin(angle)));
            x = Math.min(w - 1, Math.max(0, x + radius * Math.cos(angle)));
            if (y <= 0 || y >= h - 1 || x <= 0 || x >= w - 1) angle += Math.PI / 2;
            for (int dy = -radius; dy <= radius; dy++) {
                for (int dx = -radius; dx <= radius; dx++) {
                    int py = (int) y + dy, px = (int) x + dx;
                    if (dy * dy + dx * dx <= radius * radius && py >= 0 && py < h && px >= 0 && px < w) painted[py * w + px] = true;
                }
            }
            m = Mask.of(h, w, painted);
        }
        return m;
    }
}
