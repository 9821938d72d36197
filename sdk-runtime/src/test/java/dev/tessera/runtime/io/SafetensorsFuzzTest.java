package dev.tessera.runtime.io;

import static dev.tessera.runtime.io.SafetensorsTestFiles.f32;
import static dev.tessera.runtime.io.SafetensorsTestFiles.f64;
import static dev.tessera.runtime.io.SafetensorsTestFiles.i32;
import static dev.tessera.runtime.io.SafetensorsTestFiles.i64;
import static dev.tessera.runtime.io.SafetensorsTestFiles.shape;
import static dev.tessera.runtime.io.SafetensorsTestFiles.u16;
import static dev.tessera.runtime.io.SafetensorsTestFiles.u8;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.tessera.InvalidWeightsException;
import dev.tessera.runtime.io.SafetensorsTestFiles.Spec;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Mutated safetensors files must either load or fail with {@link InvalidWeightsException}: never
 * another exception, an out-of-memory error or a hang. A failing case names its index; rerun it
 * alone with {@code mutate(i)}.
 */
class SafetensorsFuzzTest {
    private static final long SEED = 0x7e55e4aL;
    private static final int CASES = 12_000;
    /** Every OPEN_EVERY-th case also goes through open(Path) on a temp file and must behave the same. */
    private static final int OPEN_EVERY = 40;
    private static final String NAME = "fuzz.safetensors";
    private static final List<String> DTYPES = List.of("F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL",
            "F8_E4M3", "f32", "", "F32 ", "U64", "\\u0046\\u0033\\u0032");
    private static final List<String> SNIPPETS = List.of("-1", "0", "4294967296", "18446744073709551616", "1e400", "1.5",
            "null", "true", "\"x\"", "[]", "{}", "[[[[[[1]]]]]]", "{\"a\":{\"b\":{}}}", "\"__metadata__\"", "\"shape\"",
            "\"dtype\"", "\"data_offsets\"", ",", ":", "}", "]", "\"\\ud800\"", "\u00e9", "[".repeat(1200));

    private final List<byte[]> seeds = List.of(seedA(), seedB(), seedC());

    @TempDir Path dir;

    private static byte[] seedA() {
        Map<String, Spec> t = new LinkedHashMap<>();
        t.put("conv.weight", new Spec("F32", shape(2, 1, 3, 3), f32(1, 2, 3, 4, 5, 6, 7, 8, 9, -1, -2, -3, -4, -5, -6, -7, -8, -9)));
        t.put("conv.bias", new Spec("F16", shape(2), u16(0x3c00, 0x0001)));
        t.put("norm.scale", new Spec("BF16", shape(), u16(0x3f80)));
        t.put("index", new Spec("I64", shape(3), i64(0, 5, -7)));
        return SafetensorsTestFiles.write(t, Map.of("format", "pt", "note", "fuzz seed"));
    }

    private static byte[] seedB() {
        Map<String, Spec> t = new LinkedHashMap<>();
        t.put("a", new Spec("U8", shape(5), u8(0, 1, 2, 250, 255)));
        t.put("b", new Spec("I32", shape(2, 2), i32(1, -1, 1 << 20, 3)));
        t.put("c", new Spec("F64", shape(1, 2), f64(0.5, -1e10)));
        t.put("empty", new Spec("F32", shape(3, 0), new byte[0]));
        t.put("mask", new Spec("BOOL", shape(3), u8(1, 0, 1)));
        t.put("small", new Spec("I16", shape(1), u16(-2)));
        t.put("tiny", new Spec("I8", shape(2), u8(-128, 127)));
        return SafetensorsTestFiles.write(t, Map.of("k", "v"));
    }

    private static byte[] seedC() {
        Map<String, Spec> t = new LinkedHashMap<>();
        float[] big = new float[64];
        for (int i = 0; i < big.length; i++) big[i] = i * 0.25f - 3;
        t.put("layer.0.weight", new Spec("F32", shape(8, 8), f32(big)));
        t.put("layer.0.bias", new Spec("F32", shape(8), f32(Arrays.copyOf(big, 8))));
        t.put("layer.1.weight", new Spec("F16", shape(4, 2), u16(0x3c00, 0x4000, 0x4200, 0x4400, 0x8001, 0x03ff, 0x7bff, 0)));
        return SafetensorsTestFiles.write(t, Map.of());
    }

    @Test
    void mutatedFilesLoadOrFailCleanly() {
        int[] outcomes = new int[2]; // loaded, rejected
        long start = System.nanoTime();
        assertTimeoutPreemptively(Duration.ofSeconds(60), () -> {
            for (int c = 0; c < CASES; c++) {
                int i = c;
                byte[] file = mutate(i);
                String parsed = check(i, file, i % 3 == 0);
                outcomes[parsed == null ? 0 : 1]++;
                if (i % OPEN_EVERY == 0) {
                    Path p = SafetensorsTestFiles.writeTo(dir, "case" + i + ".safetensors", file);
                    String opened = check(i, p, null);
                    assertEquals(parsed, opened == null ? null : opened.replace(p.toString(), NAME), () -> "open differs from parse, " + describe(i));
                }
            }
        });
        double seconds = (System.nanoTime() - start) / 1e9;
        System.out.printf("safetensors fuzz: %d cases, %d loaded, %d rejected, %.2f s%n", CASES, outcomes[0], outcomes[1], seconds);
        // Both paths must be exercised, or the mutations are too weak or too strong.
        assertTrue(outcomes[0] > CASES / 50 && outcomes[1] > CASES / 2, Arrays.toString(outcomes));
    }

    /** Loads the file and every tensor; returns null if it loads, the message if it is rejected. */
    private String check(int i, Object input, Boolean direct) {
        try {
            SafetensorsFile f;
            if (input instanceof Path p) {
                f = SafetensorsFile.open(p);
            } else {
                byte[] bytes = (byte[]) input;
                ByteBuffer b = direct ? ByteBuffer.allocateDirect(bytes.length).put(bytes).flip() : ByteBuffer.wrap(bytes);
                f = SafetensorsFile.parse(b, NAME);
            }
            try (f) {
                for (String key : f.keys()) {
                    f.shape(key);
                    f.tensor(key);
                    if (!f.dtype(key).startsWith("F") && !f.dtype(key).equals("BF16")) f.ints(key);
                }
            }
            return null;
        } catch (InvalidWeightsException e) {
            String source = input instanceof Path p ? p.toString() : NAME;
            assertTrue(e.getMessage().startsWith(source + ": "), () -> "message without the source, " + describe(i) + ": " + e.getMessage());
            if (e.getMessage().contains("cannot read")) fail("I/O failure on a valid path, " + describe(i), e);
            // Messages mention values from the file; the ints() one only arises from values, fine either way.
            return e.getMessage();
        } catch (Throwable t) {
            fail("unexpected " + t + ", " + describe(i), t);
            return null;
        }
    }

    private static String describe(int i) {
        return "case " + i + " (seed " + SEED + ")";
    }

    /** Case {@code i}: a seed file with one to three mutations, all drawn from a generator of (SEED, i). */
    byte[] mutate(int i) {
        SplittableRandom r = new SplittableRandom(SEED * 31 + i);
        byte[] file = seeds.get(r.nextInt(seeds.size())).clone();
        for (int m = 1 + (r.nextInt(4) == 0 ? r.nextInt(3) : 0); m > 0; m--) file = mutateOnce(file, r);
        return file;
    }

    private static byte[] mutateOnce(byte[] file, SplittableRandom r) {
        int kind = r.nextInt(11);
        if (file.length < 8 && kind != 1) kind = 0;
        switch (kind) {
            case 0: { // flips anywhere
                for (int n = 1 + r.nextInt(8); n > 0 && file.length > 0; n--) file[r.nextInt(file.length)] ^= (byte) (1 << r.nextInt(8));
                return file;
            }
            case 1: // truncation
                return Arrays.copyOf(file, r.nextInt(file.length + 1));
            case 2: { // header-length field
                ByteBuffer b = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
                long n = b.getLong(0);
                long[] choices = {-1, Long.MAX_VALUE, Long.MIN_VALUE, 1L << 32, 100_000_001, 0, 1, n + 1, n - 1, n + r.nextInt(64) - 32,
                        file.length - 8, file.length - 7, r.nextLong(), Integer.MAX_VALUE, (long) Integer.MAX_VALUE + 9};
                b.putLong(0, choices[r.nextInt(choices.length)]);
                return file;
            }
            default: { // edits of the header text, mostly with the length field fixed up to match
                int headerLength = (int) Math.min(Math.max(0, ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong(0)), file.length - 8);
                if (kind == 3) { // flips within the header bytes
                    for (int n = 1 + r.nextInt(4); n > 0 && headerLength > 0; n--) file[8 + r.nextInt(headerLength)] ^= (byte) (1 << r.nextInt(8));
                    return file;
                }
                String json = new String(file, 8, headerLength, StandardCharsets.UTF_8);
                byte[] data = Arrays.copyOfRange(file, 8 + headerLength, file.length);
                String edited = editJson(json, kind, r);
                if (r.nextInt(8) == 0) { // keep the stale length: the header now overruns or leaves bytes
                    byte[] h = edited.getBytes(StandardCharsets.UTF_8);
                    byte[] rest = new byte[h.length + data.length];
                    System.arraycopy(h, 0, rest, 0, h.length);
                    System.arraycopy(data, 0, rest, h.length, data.length);
                    return SafetensorsTestFiles.withHeader(headerLength, new byte[0], rest);
                }
                return SafetensorsTestFiles.withHeader(edited, data);
            }
        }
    }

    private static String editJson(String json, int kind, SplittableRandom r) {
        if (json.isEmpty()) return SNIPPETS.get(r.nextInt(SNIPPETS.size()));
        StringBuilder s = new StringBuilder(json);
        int at = r.nextInt(s.length());
        switch (kind) {
            case 4: { // digits: swap two neighbours in a number, or change one
                int d = indexOfDigit(s, at);
                if (d < 0) break;
                if (d + 1 < s.length() && Character.isDigit(s.charAt(d + 1)) && r.nextBoolean()) {
                    char c = s.charAt(d);
                    s.setCharAt(d, s.charAt(d + 1));
                    s.setCharAt(d + 1, c);
                } else {
                    s.setCharAt(d, (char) ('0' + r.nextInt(10)));
                }
                break;
            }
            case 5: // delete characters
                s.delete(at, Math.min(s.length(), at + 1 + (r.nextBoolean() ? 0 : r.nextInt(12))));
                break;
            case 6: { // duplicate a character or a substring
                int end = Math.min(s.length(), at + 1 + (r.nextBoolean() ? 0 : r.nextInt(60)));
                s.insert(end, s.substring(at, end));
                break;
            }
            case 7: { // change a dtype string
                int d = s.indexOf("\"dtype\":\"", r.nextInt(s.length()));
                if (d < 0) d = s.indexOf("\"dtype\":\"");
                if (d < 0) break;
                int begin = d + 9, end = s.indexOf("\"", begin);
                if (end < 0) break;
                s.replace(begin, end, DTYPES.get(r.nextInt(DTYPES.size())));
                break;
            }
            case 9: { // move a tensor's data: sizes still match, so regions overlap or leave the data section
                int d = s.indexOf("\"data_offsets\":[", at);
                if (d < 0) d = s.indexOf("\"data_offsets\":[");
                if (d < 0) break;
                int begin = d + 16, end = s.indexOf("]", begin);
                if (end < 0) break;
                String[] bounds = s.substring(begin, end).split(",");
                try {
                    long delta = r.nextInt(4) == 0 ? r.nextLong() >>> 1 : r.nextInt(33) - 16;
                    s.replace(begin, end, (Long.parseLong(bounds[0]) + delta) + "," + (Long.parseLong(bounds[1]) + delta));
                } catch (RuntimeException e) { // earlier edits broke this array: leave it
                }
                break;
            }
            case 8: { // wrap a value in nesting
                int v = s.indexOf(":", at);
                if (v < 0) break;
                int depth = r.nextInt(5) == 0 ? 600 + r.nextInt(600) : 1 + r.nextInt(3);
                String open = r.nextBoolean() ? "[" : "{\"x\":";
                String close = open.equals("[") ? "]" : "}";
                int end = valueEnd(s, v + 1);
                s.insert(end, close.repeat(depth));
                s.insert(v + 1, open.repeat(depth));
                break;
            }
            default: // insert a snippet: numbers out of range, wrong types, keys, stray punctuation
                s.insert(at, SNIPPETS.get(r.nextInt(SNIPPETS.size())));
        }
        return s.toString();
    }

    private static int indexOfDigit(CharSequence s, int from) {
        for (int k = 0; k < s.length(); k++) {
            int j = (from + k) % s.length();
            if (Character.isDigit(s.charAt(j))) return j;
        }
        return -1;
    }

    /** Where the JSON value starting at {@code from} ends, roughly: the next ',' or '}' at depth 0. */
    private static int valueEnd(CharSequence s, int from) {
        int depth = 0;
        for (int k = from; k < s.length(); k++) {
            char c = s.charAt(k);
            if (c == '[' || c == '{') depth++;
            else if ((c == ']' || c == '}') && depth-- == 0) return k;
            else if (c == ',' && depth == 0) return k;
        }
        return s.length();
    }
}
