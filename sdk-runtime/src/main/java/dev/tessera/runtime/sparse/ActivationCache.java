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
 * stored as float32, or as float16 to halve the memory at the cost of rounding. The CPU backend
 * stores {@link Map32}s in host memory; a GPU backend stores its own {@link Entry}s in device memory,
 * which {@link #close} frees.
 */
public final class ActivationCache implements AutoCloseable {
    /** Storage precision of cached maps. */
    public enum Precision { FP32, FP16 }

    /** What the cache holds for one value or one norm: its exact size; native memory is freed on close. */
    public interface Entry extends AutoCloseable {
        long bytes();

        @Override
        default void close() {}
    }

    /** A group norm's per-channel affine {@code y = x * scale + shift} in host memory. */
    private record HostAffine(float[] scale, float[] shift) implements Entry {
        @Override
        public long bytes() {
            return 2L * Float.BYTES * scale.length;
        }
    }

    /** One cached map in host memory, read back as float32 whatever its storage. */
    public static final class Map32 implements Entry {
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

        /** The float16 storage, for bulk reads by kernels; null when stored as float32. */
        public @Nullable ShortBuffer fp16() {
            return fp16;
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

        @Override
        public long bytes() {
            return (long) shape.size() * (fp32 != null ? Float.BYTES : 2);
        }
    }

    private final Precision precision;
    private final long budgetBytes;
    private final Map<Integer, Entry> maps = new HashMap<>();
    private final Map<String, Entry> affines = new HashMap<>();
    private long bytes;

    /** A cache that refuses ({@link OverBudgetException}) to hold more than {@code budgetBytes}. */
    public ActivationCache(Precision precision, long budgetBytes) {
        this.precision = precision;
        this.budgetBytes = budgetBytes;
    }

    /** Stores a copy of {@code t} in host memory as the full-pass map of value {@code valueId}. */
    public void put(int valueId, Tensor t) {
        charge((long) t.size() * (precision == Precision.FP32 ? Float.BYTES : 2));
        maps.put(valueId, new Map32(t, precision));
    }

    /** Stores a backend's entry as the full-pass map of value {@code valueId}; closes it if over budget. */
    public void put(int valueId, Entry entry) {
        chargeOrClose(entry);
        maps.put(valueId, entry);
    }

    /** Stores a group norm's per-channel {@code y = x * scale + shift} seen in the full pass. */
    public void putAffine(String node, float[] scale, float[] shift) {
        charge(2L * Float.BYTES * scale.length);
        affines.put(node, new HostAffine(scale.clone(), shift.clone()));
    }

    /** Stores a backend's entry for a group norm's affine; closes it if over budget. */
    public void putAffine(String node, Entry entry) {
        chargeOrClose(entry);
        affines.put(node, entry);
    }

    private void chargeOrClose(Entry entry) {
        try {
            charge(entry.bytes());
        } catch (OverBudgetException e) {
            entry.close();
            throw e;
        }
    }

    private void charge(long size) {
        if (bytes + size > budgetBytes) throw new OverBudgetException("activation cache", bytes + size, budgetBytes);
        bytes += size;
    }

    public boolean contains(int valueId) {
        return maps.containsKey(valueId);
    }

    /** The host map of a value (CPU backend). */
    public Map32 map(int valueId) {
        return entry(valueId, Map32.class);
    }

    /** The entry of a value, of the type the backend that filled this cache stores. */
    public <T extends Entry> T entry(int valueId, Class<T> type) {
        Entry e = maps.get(valueId);
        if (e == null) throw new IllegalStateException("value " + valueId + " is not in the activation cache");
        if (!type.isInstance(e)) throw new IllegalStateException("value " + valueId + " is cached by another backend");
        return type.cast(e);
    }

    /** [scale, shift] of a group norm node, in host memory (CPU backend). */
    public float[][] affine(String node) {
        HostAffine a = affineEntry(node, HostAffine.class);
        return new float[][] {a.scale(), a.shift()};
    }

    /** A group norm's affine entry, of the type the backend that filled this cache stores. */
    public <T extends Entry> T affineEntry(String node, Class<T> type) {
        Entry a = affines.get(node);
        if (a == null) throw new IllegalStateException("no cached statistics for " + node);
        if (!type.isInstance(a)) throw new IllegalStateException("statistics of " + node + " are cached by another backend");
        return type.cast(a);
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

    /** Frees what the cache holds (device memory of GPU backends); it is empty afterwards. */
    @Override
    public void close() {
        for (Entry e : maps.values()) e.close();
        for (Entry e : affines.values()) e.close();
        maps.clear();
        affines.clear();
        bytes = 0;
    }
}
