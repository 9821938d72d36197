package dev.tessera.runtime.io;

import com.fasterxml.jackson.jr.ob.JSON;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Writes safetensors bytes for tests, laid out as the reference writer does. */
final class SafetensorsTestFiles {
    private SafetensorsTestFiles() {}

    /** One tensor to write: its dtype name, shape and raw little-endian bytes. */
    record Spec(String dtype, int[] shape, byte[] data) {}

    /** A valid file: tensors in map order, data packed back to back, header padded to 8 bytes. */
    static byte[] write(Map<String, Spec> tensors, Map<String, String> metadata) {
        Map<String, Object> header = new LinkedHashMap<>();
        // Sorted: Map.of iterates in a different order in each JVM, and the fuzz test needs the same bytes every run.
        if (!metadata.isEmpty()) header.put("__metadata__", new TreeMap<>(metadata));
        ByteBuffer data = ByteBuffer.allocate(tensors.values().stream().mapToInt(s -> s.data.length).sum());
        for (Map.Entry<String, Spec> e : tensors.entrySet()) {
            Spec s = e.getValue();
            Map<String, Object> info = new LinkedHashMap<>();
            info.put("dtype", s.dtype);
            info.put("shape", Arrays.stream(s.shape).boxed().toList());
            info.put("data_offsets", List.of(data.position(), data.position() + s.data.length));
            header.put(e.getKey(), info);
            data.put(s.data);
        }
        String json;
        try {
            json = JSON.std.asString(header);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return withHeader(json + " ".repeat((8 - json.getBytes(StandardCharsets.UTF_8).length % 8) % 8), data.array());
    }

    static byte[] write(Map<String, Spec> tensors) {
        return write(tensors, Map.of());
    }

    /** A file of one tensor. */
    static byte[] single(String key, String dtype, int[] shape, byte[] data) {
        Map<String, Spec> m = new LinkedHashMap<>();
        m.put(key, new Spec(dtype, shape, data));
        return write(m);
    }

    /** Any header text, even malformed, followed by {@code data}; the length field is set to match. */
    static byte[] withHeader(String json, byte[] data) {
        byte[] h = json.getBytes(StandardCharsets.UTF_8);
        return withHeader(h.length, h, data);
    }

    /** A file whose length field says {@code declaredLength}, whatever the header's real length. */
    static byte[] withHeader(long declaredLength, byte[] header, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(8 + header.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        return b.putLong(declaredLength).put(header).put(data).array();
    }

    /** The header text of a file written by {@link #write}. */
    static String header(byte[] file) {
        int n = (int) ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return new String(file, 8, n, StandardCharsets.UTF_8);
    }

    /** The data section of a file written by {@link #write}. */
    static byte[] data(byte[] file) {
        int n = (int) ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0);
        return Arrays.copyOfRange(file, 8 + n, file.length);
    }

    static byte[] f64(double... v) {
        ByteBuffer b = le(v.length * 8);
        for (double x : v) b.putDouble(x);
        return b.array();
    }

    static byte[] f32(float... v) {
        ByteBuffer b = le(v.length * 4);
        for (float x : v) b.putFloat(x);
        return b.array();
    }

    /** Raw 16-bit patterns, for F16 and BF16. */
    static byte[] u16(int... bits) {
        ByteBuffer b = le(bits.length * 2);
        for (int x : bits) b.putShort((short) x);
        return b.array();
    }

    static byte[] i64(long... v) {
        ByteBuffer b = le(v.length * 8);
        for (long x : v) b.putLong(x);
        return b.array();
    }

    static byte[] i32(int... v) {
        ByteBuffer b = le(v.length * 4);
        for (int x : v) b.putInt(x);
        return b.array();
    }

    /** One byte per value, for I8, U8 and BOOL. */
    static byte[] u8(int... v) {
        byte[] out = new byte[v.length];
        for (int i = 0; i < v.length; i++) out[i] = (byte) v[i];
        return out;
    }

    static int[] shape(int... dims) {
        return dims;
    }

    static Path writeTo(Path dir, String name, byte[] bytes) {
        try {
            return Files.write(dir.resolve(name), bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static ByteBuffer le(int bytes) {
        return ByteBuffer.allocate(bytes).order(ByteOrder.LITTLE_ENDIAN);
    }
}
