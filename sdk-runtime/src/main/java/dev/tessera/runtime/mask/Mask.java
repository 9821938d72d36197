package dev.tessera.runtime.mask;

import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * An immutable binary mask of {@code height x width} pixels, row-major; a set pixel means "changed"
 * (difference masks) or "computed" (sparse layers). Masks are small (at most the input resolution),
 * so a plain boolean per pixel is simpler and fast enough; no bit packing.
 */
public final class Mask {
    private final int height;
    private final int width;
    final boolean[] bits; // row-major, never modified after construction; package-private for the reducers
    private final int count;

    /** Takes ownership of {@code bits}: callers in this package must not modify the array afterwards. */
    Mask(int height, int width, boolean[] bits) {
        if (height <= 0 || width <= 0) throw new IllegalArgumentException("mask size must be positive, got " + height + "x" + width);
        if (bits.length != height * width) throw new IllegalArgumentException(bits.length + " pixels for a " + height + "x" + width + " mask");
        this.height = height;
        this.width = width;
        this.bits = bits;
        int n = 0;
        for (boolean b : bits) if (b) n++;
        this.count = n;
    }

    /** A mask from row-major pixels (copied). */
    public static Mask of(int height, int width, boolean[] pixels) {
        checkSize(height, width);
        if (pixels.length != height * width) throw new IllegalArgumentException(pixels.length + " pixels for a " + height + "x" + width + " mask");
        return new Mask(height, width, pixels.clone());
    }

    public static Mask empty(int height, int width) {
        checkSize(height, width);
        return new Mask(height, width, new boolean[height * width]);
    }

    public static Mask full(int height, int width) {
        checkSize(height, width);
        boolean[] b = new boolean[height * width];
        Arrays.fill(b, true);
        return new Mask(height, width, b);
    }

    /**
     * A mask from a tensor of shape [H, W] (leading dimensions of size 1, as in [1, 1, H, W], are
     * accepted too): a pixel is set where the value is non-zero. u8 masks read through
     * {@code SafetensorsFile.tensor} arrive as 0.0/1.0 floats.
     */
    public static Mask fromTensor(Tensor t) {
        Shape s = t.shape();
        int r = s.rank();
        if (r < 2) throw new IllegalArgumentException("a mask needs a tensor of shape [H, W], got " + s);
        for (int i = 0; i < r - 2; i++) {
            if (s.dim(i) != 1) throw new IllegalArgumentException("a mask needs a tensor of shape [H, W], got " + s);
        }
        int h = s.dim(r - 2), w = s.dim(r - 1);
        checkSize(h, w);
        FloatBuffer d = t.data();
        boolean[] b = new boolean[h * w];
        for (int i = 0; i < b.length; i++) b[i] = d.get(i) != 0f;
        return new Mask(h, w, b);
    }

    private static void checkSize(int height, int width) {
        if (height <= 0 || width <= 0) throw new IllegalArgumentException("mask size must be positive, got " + height + "x" + width);
        if ((long) height * width > Integer.MAX_VALUE) throw new IllegalArgumentException("mask too large: " + height + "x" + width);
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    public Resolution resolution() {
        return new Resolution(height, width);
    }

    public boolean get(int y, int x) {
        if (y < 0 || y >= height || x < 0 || x >= width) {
            throw new IndexOutOfBoundsException("pixel (" + y + ", " + x + ") outside a " + height + "x" + width + " mask");
        }
        return bits[y * width + x];
    }

    /** Number of set pixels. */
    public int count() {
        return count;
    }

    /** Set pixels over all pixels, in [0, 1]. */
    public double fraction() {
        return (double) count / ((double) height * width);
    }

    public boolean isEmpty() {
        return count == 0;
    }

    /** Row-major pixels (a copy). */
    public boolean[] toArray() {
        return bits.clone();
    }

    /** A float32 tensor [H, W] holding 1 where set and 0 elsewhere. */
    public Tensor toTensor() {
        Tensor t = Tensor.zeros(height, width);
        FloatBuffer d = t.data();
        for (int i = 0; i < bits.length; i++) if (bits[i]) d.put(i, 1f);
        return t;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Mask m && m.height == height && m.width == width && Arrays.equals(m.bits, bits);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * height + width) + Arrays.hashCode(bits);
    }

    @Override
    public String toString() {
        return "Mask[" + height + "x" + width + ", " + count + " set]";
    }
}
