package dev.tessera.runtime.tensor;

import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * A float32 tensor, row-major (NCHW for feature maps), whose elements live in native memory so that
 * native kernels (OpenBLAS, GPU uploads) read them in place, with no copy per op.
 *
 * <p>{@link #data()} is a buffer of exactly {@code shape().size()} floats, position 0. Views made by
 * {@link #view} and {@link #reshape} share memory with their parent.
 */
public final class Tensor {
    private final Shape shape;
    private final FloatBuffer data;

    private Tensor(Shape shape, FloatBuffer data) {
        if (data.capacity() != shape.size()) {
            throw new IllegalArgumentException("buffer of " + data.capacity() + " floats for shape " + shape);
        }
        this.shape = shape;
        this.data = data;
    }

    /** A zero-filled tensor in fresh native memory. */
    public static Tensor zeros(Shape shape) {
        return new Tensor(shape, allocateFloats(shape.size()));
    }

    public static Tensor zeros(int... dims) {
        return zeros(Shape.of(dims));
    }

    /** Wraps the first {@code shape.size()} floats of {@code data} (from index 0) without copying. */
    public static Tensor wrap(Shape shape, FloatBuffer data) {
        return new Tensor(shape, range(data, 0, shape.size()));
    }

    /**
     * Floats {@code [start, end)} of {@code buffer} as a new buffer sharing its memory, position 0.
     * (Through {@link Buffer}: the covariant {@code FloatBuffer.position(int)} is missing on Android.)
     */
    public static FloatBuffer range(FloatBuffer buffer, int start, int end) {
        FloatBuffer d = buffer.duplicate();
        ((Buffer) d).limit(end);
        ((Buffer) d).position(start);
        return d.slice();
    }

    public static Tensor of(Shape shape, float[] values) {
        if (values.length != shape.size()) {
            throw new IllegalArgumentException(values.length + " values for shape " + shape);
        }
        Tensor t = zeros(shape);
        t.data.duplicate().put(values);
        return t;
    }

    /** Native-order direct memory, zero-filled. */
    public static FloatBuffer allocateFloats(int count) {
        return ByteBuffer.allocateDirect(Math.multiplyExact(count, Float.BYTES)).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    public Shape shape() {
        return shape;
    }

    public int size() {
        return shape.size();
    }

    public FloatBuffer data() {
        return data;
    }

    public float get(int index) {
        return data.get(index);
    }

    public void set(int index, float value) {
        data.put(index, value);
    }

    public float[] toArray() {
        float[] out = new float[size()];
        data.duplicate().get(out);
        return out;
    }

    /** A view, sharing memory, of the {@code viewShape.size()} elements that start at {@code offset}. */
    public Tensor view(int offset, Shape viewShape) {
        int n = viewShape.size();
        if (offset < 0 || offset + n > size()) {
            throw new IndexOutOfBoundsException("view of " + n + " floats at " + offset + " in " + shape);
        }
        return new Tensor(viewShape, range(data, offset, offset + n));
    }

    /** Same memory, another shape with the same number of elements. */
    public Tensor reshape(Shape newShape) {
        if (newShape.size() != size()) throw new IllegalArgumentException("cannot reshape " + shape + " to " + newShape);
        return new Tensor(newShape, data);
    }

    /** max |this - other| over all elements; the shapes must be equal. */
    public double maxAbsDifference(Tensor other) {
        if (!other.shape.equals(shape)) throw new IllegalArgumentException("compare " + shape + " with " + other.shape);
        double max = 0;
        for (int i = 0, n = size(); i < n; i++) max = Math.max(max, Math.abs(data.get(i) - other.data.get(i)));
        return max;
    }

    /** max |element|. */
    public double maxAbs() {
        double max = 0;
        for (int i = 0, n = size(); i < n; i++) max = Math.max(max, Math.abs(data.get(i)));
        return max;
    }

    /** A copy in fresh native memory. */
    public Tensor copy() {
        Tensor t = zeros(shape);
        t.copyFrom(this);
        return t;
    }

    public void copyFrom(Tensor src) {
        if (src.size() != size()) throw new IllegalArgumentException("copy " + src.shape + " into " + shape);
        data.duplicate().put(src.data.duplicate());
    }

    public void fill(float value) {
        for (int i = 0, n = size(); i < n; i++) data.put(i, value);
    }

    @Override
    public String toString() {
        return "Tensor" + shape;
    }
}
