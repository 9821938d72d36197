package dev.tessera.runtime.io;

import static java.nio.ByteOrder.LITTLE_ENDIAN;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.jr.ob.JSON;
import dev.tessera.InvalidWeightsException;
import dev.tessera.runtime.tensor.Half;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.io.IOException;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * A <a href="https://huggingface.co/docs/safetensors">safetensors</a> file: an 8-byte little-endian
 * header length, a UTF-8 JSON header giving each tensor's dtype, shape and byte range, then the data.
 *
 * <p>Every number in the header is checked against the file's size before anything is allocated or
 * read, so a corrupt or hostile file fails with an {@link InvalidWeightsException} that names it,
 * never with an out-of-memory error. Aligned F32 tensors are read in place (read-only views of the
 * mapping); other dtypes are converted into fresh float32 tensors. Instances are immutable and safe
 * to share between threads.
 */
public final class SafetensorsFile implements WeightSource, AutoCloseable {
    /** The reference implementation's limit: real headers are kilobytes, so more means corruption. */
    private static final long MAX_HEADER_BYTES = 100_000_000;
    private static final String METADATA = "__metadata__";
    /** Duplicate keys are rejected: which of two entries a reader keeps is not specified. */
    private static final JSON JSON_READER = JSON.std.with(JSON.Feature.FAIL_ON_DUPLICATE_MAP_KEYS);

    /** Supported dtypes, floating point first, with their sizes in bytes. */
    private enum DType {
        F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);
        final int size;
        DType(int size) { this.size = size; }
        boolean isFloat() { return ordinal() <= BF16.ordinal(); }
    }

    /** One tensor; {@code data} holds exactly its bytes, {@code offset} is where they start in the file. */
    private record Entry(DType dtype, Shape shape, ByteBuffer data, long offset) {}

    /** Random access to the source: slices of an in-memory buffer, or mappings of a file. */
    private interface Bytes {
        long size();
        ByteBuffer slice(long offset, int length) throws IOException;
    }

    private final String source;
    private final Map<String, Entry> entries;
    private final Map<String, String> metadata;

    private SafetensorsFile(String source, Map<String, Entry> entries, Map<String, String> metadata) {
        this.source = source;
        this.entries = Collections.unmodifiableMap(entries);
        this.metadata = Collections.unmodifiableMap(metadata);
    }

    /** Maps {@code file} read-only and parses it; the tensors stay valid after {@link #close}. */
    public static SafetensorsFile open(Path file) {
        String source = file.toString();
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = channel.size();
            // Each tensor gets its own mapping: one mapping holds at most 2 GiB, a file may hold more.
            // Mappings outlive the channel and are unmapped by the GC once no tensor uses them.
            return read(source, new Bytes() {
                @Override public long size() { return size; }
                @Override public ByteBuffer slice(long offset, int length) throws IOException {
                    return channel.map(FileChannel.MapMode.READ_ONLY, offset, length);
                }
            });
        } catch (NoSuchFileException e) {
            throw new InvalidWeightsException(source + ": file not found", e);
        } catch (IOException e) {
            throw new InvalidWeightsException(source + ": cannot read the file: " + e, e);
        }
    }

    /** Parses the bytes between {@code bytes}' position and limit; F32 tensors may share its memory. */
    public static SafetensorsFile parse(ByteBuffer bytes, String sourceName) {
        ByteBuffer all = bytes.slice();
        try {
            return read(sourceName, new Bytes() {
                @Override public long size() { return all.capacity(); }
                @Override public ByteBuffer slice(long offset, int length) {
                    ByteBuffer b = all.duplicate();
                    ((Buffer) b).position((int) offset); // Buffer casts: ByteBuffer's overrides are Java 9+
                    ((Buffer) b).limit((int) offset + length);
                    return b.slice();
                }
            });
        } catch (IOException e) {
            throw new InvalidWeightsException(sourceName + ": cannot read: " + e, e); // not thrown by slice
        }
    }

    private static SafetensorsFile read(String source, Bytes bytes) throws IOException {
        long size = bytes.size();
        if (size < 8) throw invalid(source, "truncated: " + size + " bytes, less than the 8-byte header length");
        long headerLength = bytes.slice(0, 8).order(LITTLE_ENDIAN).getLong(0); // u64: negative means >= 2^63
        if (headerLength < 0 || headerLength > size - 8) {
            throw invalid(source, "header length " + Long.toUnsignedString(headerLength) + " is beyond the file of " + size + " bytes");
        }
        if (headerLength > MAX_HEADER_BYTES) throw invalid(source, "header length " + headerLength + " exceeds the 100 MB limit");
        ByteBuffer json = bytes.slice(8, (int) headerLength);
        long dataStart = 8 + headerLength, dataLength = size - dataStart;
        Map<String, Entry> entries = new LinkedHashMap<>();
        Map<String, String> metadata = new LinkedHashMap<>();
        for (Map.Entry<String, Object> e : parseJson(source, json).entrySet()) {
            String key = e.getKey();
            if (key.equals(METADATA)) {
                if (!(e.getValue() instanceof Map<?, ?> m)) throw invalid(source, "\"__metadata__\" is not a JSON object");
                for (Map.Entry<?, ?> kv : m.entrySet()) {
                    if (!(kv.getValue() instanceof String v)) throw invalid(source, "\"__metadata__\" value of '" + kv.getKey() + "' is not a string");
                    metadata.put((String) kv.getKey(), v);
                }
                continue;
            }
            String where = "tensor '" + key + "'";
            if (!(e.getValue() instanceof Map<?, ?> fields)) throw invalid(source, where + " is not a JSON object");
            if (!(fields.get("dtype") instanceof String dtypeName)) throw invalid(source, where + ": missing or non-string \"dtype\"");
            DType dtype;
            try {
                dtype = DType.valueOf(dtypeName);
            } catch (IllegalArgumentException x) {
                throw invalid(source, where + ": unknown dtype \"" + clip(dtypeName) + "\"");
            }
            long[] dims = integers(source, where, fields.get("shape"), "shape", -1);
            long[] offsets = integers(source, where, fields.get("data_offsets"), "data_offsets", 2);
            int[] intDims = new int[dims.length];
            boolean empty = false;
            for (int i = 0; i < dims.length; i++) {
                if (dims[i] > Integer.MAX_VALUE) throw invalid(source, where + ": dimension " + dims[i] + " is too large");
                intDims[i] = (int) dims[i];
                empty |= dims[i] == 0;
            }
            Shape shape = Shape.of(intDims);
            long begin = offsets[0], end = offsets[1], expectedBytes;
            if (begin > end) throw invalid(source, where + ": data_offsets begin " + begin + " > end " + end);
            if (end > dataLength) throw invalid(source, where + ": data_offsets [" + begin + ", " + end + "] are outside the data section of " + dataLength + " bytes");
            try {
                long numel = 1; // a zero dimension makes the tensor empty, however large the others
                for (long d : dims) numel = empty ? 0 : Math.multiplyExact(numel, d);
                expectedBytes = Math.multiplyExact(numel, (long) dtype.size);
            } catch (ArithmeticException x) {
                throw invalid(source, where + ": shape " + shape + " overflows the element count");
            }
            if (end - begin != expectedBytes) {
                throw invalid(source, where + ": data region of " + (end - begin) + " bytes does not match shape " + shape
                        + " of " + dtype + " (" + expectedBytes + " bytes)");
            }
            if (expectedBytes > Integer.MAX_VALUE) throw invalid(source, where + " is larger than 2 GiB, the most one tensor may hold");
            ByteBuffer data = bytes.slice(dataStart + begin, (int) expectedBytes).order(LITTLE_ENDIAN);
            entries.put(key, new Entry(dtype, shape, data, dataStart + begin));
        }
        // Two tensors sharing bytes is a corrupt file; sorted by start, any overlap shows between neighbours.
        List<Map.Entry<String, Entry>> byOffset = entries.entrySet().stream()
                .filter(e -> e.getValue().data.capacity() > 0)
                .sorted(Comparator.comparingLong(e -> e.getValue().offset))
                .collect(Collectors.toList());
        for (int i = 1; i < byOffset.size(); i++) {
            Entry prev = byOffset.get(i - 1).getValue();
            if (byOffset.get(i).getValue().offset < prev.offset + prev.data.capacity()) {
                throw invalid(source, "tensors '" + byOffset.get(i - 1).getKey() + "' and '" + byOffset.get(i).getKey() + "' overlap in the data section");
            }
        }
        return new SafetensorsFile(source, entries, metadata);
    }

    private static Map<String, Object> parseJson(String source, ByteBuffer json) {
        Map<String, Object> map;
        boolean trailing;
        try {
            // Decoded strictly here: the parser would guess UTF-16/32 from zero bytes and replace bad UTF-8.
            CharBuffer text = StandardCharsets.UTF_8.newDecoder().decode(json);
            try (JsonParser parser = JSON_READER.getStreamingFactory().createParser(text.array(), text.arrayOffset() + text.position(), text.remaining())) {
                map = JSON_READER.mapFrom(parser);
                trailing = parser.nextToken() != null;
            }
        } catch (CharacterCodingException e) {
            throw invalid(source, "header is not valid UTF-8");
        } catch (Exception e) { // whatever the parser throws, the file is at fault
            String detail = e instanceof JsonProcessingException j ? j.getOriginalMessage() + at(j.getLocation()) : e.toString();
            throw new InvalidWeightsException(source + ": malformed header JSON: " + detail, e);
        }
        if (map == null) throw invalid(source, "malformed header JSON: not an object");
        if (trailing) throw invalid(source, "malformed header JSON: content after the header object");
        return map;
    }

    private static String at(JsonLocation location) {
        return location == null ? "" : " (line " + location.getLineNr() + ", column " + location.getColumnNr() + ")";
    }

    /** A JSON array of non-negative integers, of {@code count} elements unless that is negative. */
    private static long[] integers(String source, String where, Object value, String field, int count) {
        if (!(value instanceof List<?> list)) throw invalid(source, where + ": missing or non-array \"" + field + "\"");
        if (count >= 0 && list.size() != count) throw invalid(source, where + ": \"" + field + "\" has " + list.size() + " elements, not " + count);
        long[] out = new long[list.size()];
        for (int i = 0; i < out.length; i++) {
            Object v = list.get(i);
            // jackson-jr gives Integer or Long, BigInteger beyond a long, Double for fractions.
            if (!(v instanceof Integer || v instanceof Long)) throw invalid(source, where + ": \"" + field + "\" holds a non-integer or too large value " + clip(v));
            out[i] = ((Number) v).longValue();
            if (out[i] < 0) throw invalid(source, where + ": \"" + field + "\" holds a negative value " + out[i]);
        }
        return out;
    }

    /** A header value for a message, cut short: a corrupt header can hold megabytes in one string. */
    private static String clip(Object value) {
        String s = String.valueOf(value);
        return s.length() <= 40 ? s : s.substring(0, 40) + "...";
    }

    private static InvalidWeightsException invalid(String source, String problem) {
        return new InvalidWeightsException(source + ": " + problem);
    }

    /** Tensor names in file order. */
    public Set<String> keys() {
        return entries.keySet();
    }

    /** The free-form {@code __metadata__} strings, empty if the file has none. */
    public Map<String, String> metadata() {
        return metadata;
    }

    public Shape shape(String key) {
        return entry(key).shape;
    }

    /** The stored dtype's safetensors name, such as {@code "F16"}. */
    public String dtype(String key) {
        return entry(key).dtype.name();
    }

    @Override
    public Tensor tensor(String key, Shape expected) {
        Shape actual = shape(key);
        if (!actual.equals(expected)) throw invalid(source, "tensor '" + key + "' has shape " + actual + ", expected " + expected);
        return tensor(key);
    }

    /** The tensor as float32, checked for NaN and Inf if it is stored as floating point. */
    public Tensor tensor(String key) {
        Entry e = entry(key);
        int n = e.shape.size();
        ByteBuffer b = e.data.duplicate().order(LITTLE_ENDIAN); // duplicate() forgets the byte order
        Tensor t;
        if (e.dtype == DType.F32 && b.isDirect() && ByteOrder.nativeOrder() == LITTLE_ENDIAN && e.offset % 4 == 0) {
            // Native memory, native order, aligned: what kernels need, so no copy.
            t = Tensor.wrap(e.shape, b.asFloatBuffer());
        } else {
            if (n > Integer.MAX_VALUE / Float.BYTES) throw invalid(source, "tensor '" + key + "' is too large to convert to float32");
            t = Tensor.zeros(e.shape);
            FloatBuffer out = t.data();
            for (int i = 0; i < n; i++) out.put(i, floatAt(b, e.dtype, i));
        }
        if (e.dtype.isFloat()) {
            FloatBuffer d = t.data();
            for (int i = 0; i < n; i++) {
                float v = d.get(i);
                if (Float.isNaN(v) || Float.isInfinite(v)) {
                    throw invalid(source, "tensor '" + key + "' holds " + v + (e.dtype == DType.F64 ? " (as float32)" : "") + " at index " + i);
                }
            }
        }
        return t;
    }

    /** An integer tensor's values (I64 ones must fit an int), for index tensors. */
    public int[] ints(String key) {
        Entry e = entry(key);
        if (e.dtype.isFloat()) throw invalid(source, "tensor '" + key + "' has dtype " + e.dtype + ", not an integer dtype");
        int[] out = new int[e.shape.size()];
        for (int i = 0; i < out.length; i++) {
            long v = integerAt(e.data, e.dtype, i);
            if (v != (int) v) throw invalid(source, "tensor '" + key + "' value " + v + " at index " + i + " does not fit in an int");
            out[i] = (int) v;
        }
        return out;
    }

    private Entry entry(String key) {
        Entry e = entries.get(key);
        if (e != null) return e;
        // The keys closest to the one asked for (longest common prefix) are the likeliest intended.
        List<String> near = new ArrayList<>(entries.keySet());
        near.sort(Comparator.comparingInt((String k) -> -commonPrefix(k, key)).thenComparing(k -> k));
        String available = near.isEmpty() ? "the file holds no tensors"
                : "available keys include " + String.join(", ", near.subList(0, Math.min(5, near.size()))) + " (" + near.size() + " in all)";
        throw invalid(source, "no tensor '" + key + "'; " + available);
    }

    private static int commonPrefix(String a, String b) {
        int i = 0;
        while (i < a.length() && i < b.length() && a.charAt(i) == b.charAt(i)) i++;
        return i;
    }

    private static float floatAt(ByteBuffer b, DType dtype, int i) {
        switch (dtype) {
            case F64: return (float) b.getDouble(8 * i);
            case F32: return b.getFloat(4 * i);
            case F16: return Half.toFloat(b.getShort(2 * i));
            case BF16: return Float.intBitsToFloat(b.getShort(2 * i) << 16); // the top half of a float32
            default: return integerAt(b, dtype, i);
        }
    }

    private static long integerAt(ByteBuffer b, DType dtype, int i) {
        switch (dtype) {
            case I64: return b.getLong(8 * i);
            case I32: return b.getInt(4 * i);
            case I16: return b.getShort(2 * i);
            case I8: return b.get(i);
            case U8: return b.get(i) & 0xff;
            case BOOL: return b.get(i) != 0 ? 1 : 0;
            default: throw new IllegalArgumentException(dtype + " is not an integer dtype");
        }
    }

    /** Nothing to release: mappings are unmapped by the GC once no tensor refers to them. */
    @Override
    public void close() {}

    @Override
    public String toString() {
        return "SafetensorsFile[" + source + ", " + entries.size() + " tensors]";
    }
}
