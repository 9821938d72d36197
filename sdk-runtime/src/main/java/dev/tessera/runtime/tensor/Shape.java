package dev.tessera.runtime.tensor;

import java.util.Arrays;

/** The dimensions of a tensor, outermost first (NCHW for feature maps). Immutable. */
public final class Shape {
    private final int[] dims;

    private Shape(int[] dims) {
        for (int d : dims) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
        }
        this.dims = dims;
    }

    public static Shape of(int... dims) {
        return new Shape(dims.clone());
    }

    public static Shape nchw(int n, int c, int h, int w) {
        return new Shape(new int[] {n, c, h, w});
    }

    public int rank() {
        return dims.length;
    }

    public int dim(int i) {
        return dims[i];
    }

    public int[] dims() {
        return dims.clone();
    }

    /** Number of elements; throws if it does not fit an int (tensors live in one buffer). */
    public int size() {
        long n = 1;
        for (int d : dims) n *= d;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("tensor too large: " + this);
        return (int) n;
    }

    // NCHW accessors, valid for rank-4 shapes.
    public int n() { return dims[0]; }
    public int c() { return dims[1]; }
    public int h() { return dims[2]; }
    public int w() { return dims[3]; }

    public Shape withDim(int i, int value) {
        int[] d = dims.clone();
        d[i] = value;
        return new Shape(d);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
