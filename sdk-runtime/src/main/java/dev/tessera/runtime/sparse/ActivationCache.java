package dev.tessera.runtime.sparse;

import dev.tessera.OverBudgetException;
import dev.tessera.runtime.tensor.Half;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.ShortBuffer;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * What a full pass on the original input leaves for the sparse passes: the maps that tiles are
 * scattered into, the values an edit does not change, and each group norm's per-channel affine
 * (one cache per diffusion step). Its size in bytes is exact: the sum of what it holds. Maps are
 * stored as float32, or as float16 to halve the memory at the cost of rounding.
 */
public final class ActivationCache {
    /** Storage precision of cached maps. */
    public enum Precision { FP32, FP16 }

    /** One cached map, read back as float32 whatever its storage. */
    public static final class Map32 {
        private final Shape shape;
        private final FloatBuffer fp32;
        private final ShortBuffer fp16;

        private Map32(Tensor t, Precision precision) {
            shape = t.shape();
            if (precision == Precision.FP32) {
                fp32 = t.copy().data();
                fp16 = null;
            } else {
                fp32 = null;
                fp16 = ByteBuffer.allocateDirect(t.size() * 2).order(ByteOrder.nativeOrder()).asShortBuffer();
                for (int i = 0; i < t.size(); i++) fp16.put(i, Half.fromFloat(t.get(i)));
            }
        }

        public Shape shape() {
            return shape;
        }

        /** The float32 storage, for bulk reads by kernels; null when stored as float16. */
        public @Nullable FloatBuffer fp32() {
            return fp32;
        }

        public float get(int index) {
            return fp32 != null ? fp32.get(index) : Half.toFloat(fp16.get(index));
        }

        /** Copies {@code count} floats from {@code from} into {@code dst} at {@code at}. */
        public void copyTo(int from, FloatBuffer dst, int at, int count) {
            if (fp32 != null) {
                Tensor.range(dst, at, at + count).put(Tensor.range(fp32, from, from + count));
            } else {
                for (int i = 0; i < count; i++) dst.put(at + i, Half.toFloat(fp16.get(from + i)));
            }
        }

        /** Replaces the map's contents (a sparse update after an accepted edit). */
        public void write(Tensor t) {
            if (t.size() != shape.size()) throw new IllegalArgumentException("write " + t.shape() + " into " + shape);
            if (fp32 != null) {
                if (t.data() != fp32) Tensor.range(fp32, 0, fp32.capacity()).put(Tensor.range(t.data(), 0, t.size()));
            } else {
                for (int i = 0; i < t.size(); i++) fp16.put(i, Half.fromFloat(t.get(i)));
            }
        }

        /** The map as a float32 tensor: shared memory at FP32, a decoded copy at FP16. */
        public Tensor toTensor() {
            if (fp32 != null) return Tensor.wrap(shape, fp32);
            Tensor t = Tensor.zeros(shape);
            copyTo(0, t.data(), 0, t.size());
            return t;
        }

        long bytes() {
            return (long) shape.size() * (fp32 != null ? Float.BYTES : 2);
        }
    }

    private final Precision precision;
    private final long budgetBytes;
    private final Map<Integer, Map32> maps = new HashMap<>();
    private final Map<String, float[][]> affines = new HashMap<>();
    private long bytes;

    /** A cache that refuses ({@link OverBudgetException}) to hold more than {@code budgetBytes}. */
    public ActivationCache(Precision precision, long budgetBytes) {
        this.precision = precision;
        this.budgetBytes = budgetBytes;
    }

    /** Stores a copy of {@code t} as the full-pass map of value {@code valueId}. */
    public void put(int valueId, Tensor t) {
        long size = (long) t.size() * (precision == Precision.FP32 ? Float.BYTES : 2);
        charge(size);
        maps.put(valueId, new Map32(t, precision));
    }

    /** Stores a group norm's per-channel {@code y = x * scale + shift} seen in the full pass. */
    public void putAffine(String node, float[] scale, float[] shift) {
        charge(2L * Float.BYTES * scale.length);
        affines.put(node, new float[][] {scale.clone(), shift.clone()});
    }

    private void charge(long size) {
        if (bytes + size > budgetBytes) throw new OverBudgetException("activation cache", bytes + size, budgetBytes);
        bytes += size;
    }

    public boolean contains(int valueId) {
        return maps.containsKey(valueId);
    }

    public Map32 map(int valueId) {
        Map32 m = maps.get(valueId);
        if (m == null) throw new IllegalStateException("value " + valueId + " is not in the activation cache");
        return m;
    }

    /** [scale, shift] of a group norm node. */
    public float[][] affine(String node) {
        float[][] a = affines.get(node);
        if (a == null) throw new IllegalStateException("no cached statistics for " + node);
        return a;
    }

    public Set<Integer> valueIds() {
        return Collections.unmodifiableSet(maps.keySet());
    }

    /** Exact bytes held: cached maps at their storage precision plus norm affines. */
    public long bytes() {
        return bytes;
    }

    public long budgetBytes() {
        return budgetBytes;
    }

    public Precision precision() {
        return precision;
    }
}
