package dev.tessera.runtime.io;

import static dev.tessera.runtime.io.SafetensorsTestFiles.f32;
import static dev.tessera.runtime.io.SafetensorsTestFiles.f64;
import static dev.tessera.runtime.io.SafetensorsTestFiles.i32;
import static dev.tessera.runtime.io.SafetensorsTestFiles.i64;
import static dev.tessera.runtime.io.SafetensorsTestFiles.shape;
import static dev.tessera.runtime.io.SafetensorsTestFiles.single;
import static dev.tessera.runtime.io.SafetensorsTestFiles.u16;
import static dev.tessera.runtime.io.SafetensorsTestFiles.u8;
import static dev.tessera.runtime.io.SafetensorsTestFiles.withHeader;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.InvalidWeightsException;
import dev.tessera.runtime.io.SafetensorsTestFiles.Spec;
import dev.tessera.runtime.tensor.Half;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafetensorsFileTest {
    private static final String NAME = "model.safetensors";

    @TempDir Path dir;

    private static SafetensorsFile parse(byte[] file) {
        return SafetensorsFile.parse(ByteBuffer.wrap(file), NAME);
    }

    /** Parses and reads every tensor, expecting a failure whose message names the file and {@code phrase}. */
    private static InvalidWeightsException assertInvalid(byte[] file, String phrase) {
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> {
            SafetensorsFile f = parse(file);
            for (String key : f.keys()) f.tensor(key);
        });
        assertTrue(e.getMessage().startsWith(NAME + ": "), e.getMessage());
        assertTrue(e.getMessage().contains(phrase), () -> "expected '" + phrase + "' in: " + e.getMessage());
        return e;
    }

    /** A file of one tensor "t" with a hand-written entry, over {@code dataBytes} zero bytes. */
    private static byte[] entry(String entryJson, int dataBytes) {
        return withHeader("{\"t\":" + entryJson + "}", new byte[dataBytes]);
    }

    // ---- round trips

    @Test
    void f32RoundTripKeepsOrderShapesAndMetadata() {
        Map<String, Spec> tensors = new LinkedHashMap<>();
        tensors.put("conv.weight", new Spec("F32", shape(2, 3), f32(1, -2, 3.5f, 0, -0f, Float.MIN_VALUE)));
        tensors.put("scale", new Spec("F32", shape(), f32(0.25f)));
        tensors.put("empty", new Spec("F32", shape(0, 4), new byte[0]));
        SafetensorsFile f = parse(SafetensorsTestFiles.write(tensors, Map.of("format", "pt")));
        assertEquals(List.of("conv.weight", "scale", "empty"), List.copyOf(f.keys()));
        assertEquals(Map.of("format", "pt"), f.metadata());
        assertEquals("F32", f.dtype("conv.weight"));
        assertArrayEquals(new float[] {1, -2, 3.5f, 0, -0f, Float.MIN_VALUE}, f.tensor("conv.weight", Shape.of(2, 3)).toArray());
        assertEquals(Shape.of(), f.shape("scale"));
        assertArrayEquals(new float[] {0.25f}, f.tensor("scale", Shape.of()).toArray());
        assertEquals(0, f.tensor("empty", Shape.of(0, 4)).size());
    }

    @Test
    void f32FromDirectMemoryIsReadInPlace() {
        assumeTrue(ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN);
        Path p = SafetensorsTestFiles.writeTo(dir, "w.safetensors", single("w", "F32", shape(4), f32(1, 2, 3, 4)));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            Tensor t = f.tensor("w");
            assertTrue(t.data().isDirect());
            assertTrue(t.data().isReadOnly(), "a view of the read-only mapping");
            assertArrayEquals(new float[] {1, 2, 3, 4}, t.toArray());
        }
    }

    @Test
    void f32AtAnUnalignedOffsetIsCopied() {
        // Header of 13 bytes: the data starts at 21, not a multiple of 4.
        byte[] file = withHeader("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", f32(1.5f, -7));
        ByteBuffer direct = ByteBuffer.allocateDirect(file.length).put(file);
        direct.flip();
        Tensor t = SafetensorsFile.parse(direct, NAME).tensor("w");
        assertFalse(t.data().isReadOnly());
        assertArrayEquals(new float[] {1.5f, -7}, t.toArray());
    }

    @Test
    void f16IsConvertedExactlyForEveryFiniteValue() {
        int[] bits = new int[0x10000 - 2 * 0x400];
        int n = 0;
        for (int h = 0; h < 0x10000; h++) if ((h & 0x7c00) != 0x7c00) bits[n++] = h;
        Tensor t = parse(single("h", "F16", shape(n), u16(bits))).tensor("h");
        for (int i = 0; i < n; i++) {
            int h = bits[i], exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
            double magnitude = exponent == 0 ? mantissa * 0x1p-24 : (1 + mantissa / 1024.0) * Math.pow(2, exponent - 15);
            double expected = (h & 0x8000) != 0 ? -magnitude : magnitude;
            assertEquals((float) expected, t.get(i), () -> "half 0x" + Integer.toHexString(h));
        }
        int negativeZero = 0x8000 - 0x400; // its index, after the 1024 skipped Inf and NaN patterns below it
        assertEquals(Float.floatToIntBits(-0f), Float.floatToIntBits(t.get(negativeZero)), "negative zero keeps its sign");
    }

    @Test
    void f16SpecialValues() {
        float[] v = parse(single("h", "F16", shape(6), u16(0x3c00, 0xc000, 0x7bff, 0x0001, 0x03ff, 0x0400))).tensor("h").toArray();
        assertArrayEquals(new float[] {1, -2, 65504, 0x1p-24f, 1023 * 0x1p-24f, 0x1p-14f}, v);
        assertEquals(Float.POSITIVE_INFINITY, Half.toFloat((short) 0x7c00));
        assertEquals(Float.NEGATIVE_INFINITY, Half.toFloat((short) 0xfc00));
        assertTrue(Float.isNaN(Half.toFloat((short) 0x7e00)));
        assertTrue(Float.isNaN(Half.toFloat((short) 0xfc01)));
    }

    @Test
    void f16InfinityAndNanAreRejectedWithKeyAndIndex() {
        assertInvalid(single("h", "F16", shape(3), u16(0x3c00, 0x3c00, 0x7c00)), "tensor 'h' holds Infinity at index 2");
        assertInvalid(single("h", "F16", shape(2), u16(0xfe00, 0)), "tensor 'h' holds NaN at index 0");
    }

    @Test
    void bf16IsTheTopHalfOfAFloat() {
        float[] v = parse(single("b", "BF16", shape(4), u16(0x3f80, 0xc040, 0x0001, 0x8000))).tensor("b").toArray();
        assertArrayEquals(new float[] {1, -3, Float.intBitsToFloat(0x10000), -0f}, v);
        assertInvalid(single("b", "BF16", shape(1), u16(0xff80)), "holds -Infinity at index 0");
    }

    @Test
    void f64IsNarrowedAndOverflowIsRejected() {
        assertArrayEquals(new float[] {0.1f, -1e30f}, parse(single("d", "F64", shape(2), f64(0.1, -1e30))).tensor("d").toArray());
        assertInvalid(single("d", "F64", shape(2), f64(1, 1e300)), "holds Infinity (as float32) at index 1");
    }

    @Test
    void integerDtypes() {
        SafetensorsFile i64 = parse(single("idx", "I64", shape(2, 2), i64(0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE)));
        assertArrayEquals(new int[] {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}, i64.ints("idx"));
        assertArrayEquals(new float[] {0, -1, Integer.MAX_VALUE, Integer.MIN_VALUE}, i64.tensor("idx").toArray());
        assertArrayEquals(new int[] {7, -8}, parse(single("i", "I32", shape(2), i32(7, -8))).ints("i"));
        assertArrayEquals(new int[] {-300, 5}, parse(single("i", "I16", shape(2), u16(-300, 5))).ints("i"));
        assertArrayEquals(new int[] {-1, 127}, parse(single("i", "I8", shape(2), u8(-1, 127))).ints("i"));
        SafetensorsFile u8 = parse(single("u", "U8", shape(3), u8(0, 128, 255)));
        assertArrayEquals(new int[] {0, 128, 255}, u8.ints("u"));
        assertArrayEquals(new float[] {0, 128, 255}, u8.tensor("u").toArray());
        assertArrayEquals(new float[] {0, 1, 1}, parse(single("m", "BOOL", shape(3), u8(0, 1, 2))).tensor("m").toArray());
    }

    @Test
    void intsRejectsValuesBeyondIntAndFloatDtypes() {
        SafetensorsFile f = parse(single("idx", "I64", shape(2), i64(1, 1L << 40)));
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> f.ints("idx"));
        assertTrue(e.getMessage().contains("value 1099511627776 at index 1 does not fit in an int"), e.getMessage());
        SafetensorsFile g = parse(single("w", "F32", shape(1), f32(1)));
        e = assertThrows(InvalidWeightsException.class, () -> g.ints("w"));
        assertTrue(e.getMessage().contains("not an integer dtype"), e.getMessage());
    }

    // ---- the model asks for something the file does not have

    @Test
    void missingKeyListsNearbyKeys() {
        Map<String, Spec> tensors = new LinkedHashMap<>();
        for (String k : List.of("a", "b", "enc.conv.weight", "enc.conv.bias", "z")) tensors.put(k, new Spec("F32", shape(1), f32(1)));
        SafetensorsFile f = parse(SafetensorsTestFiles.write(tensors));
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> f.tensor("enc.conv.wieght", Shape.of(1)));
        assertTrue(e.getMessage().startsWith(NAME + ": no tensor 'enc.conv.wieght'; available keys include enc.conv.weight, enc.conv.bias"), e.getMessage());
        assertTrue(e.getMessage().contains("(5 in all)"), e.getMessage());
    }

    @Test
    void shapeMismatchGivesBothShapes() {
        SafetensorsFile f = parse(single("w", "F32", shape(2, 3), f32(1, 2, 3, 4, 5, 6)));
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> f.tensor("w", Shape.of(3, 2)));
        assertEquals(NAME + ": tensor 'w' has shape [2, 3], expected [3, 2]", e.getMessage());
    }

    @Test
    void nanInF32NamesKeyAndIndex() {
        assertInvalid(single("bn.running_var", "F32", shape(2, 2), f32(1, 2, 3, Float.NaN)), "tensor 'bn.running_var' holds NaN at index 3");
    }

    // ---- malformed files

    @Test
    void truncatedAndHeaderLengthErrors() {
        assertInvalid(new byte[5], "truncated: 5 bytes");
        assertInvalid(new byte[0], "truncated");
        byte[] valid = single("w", "F32", shape(1), f32(1));
        assertInvalid(withHeader(valid.length, new byte[0], new byte[valid.length - 8]), "is beyond the file");
        assertInvalid(withHeader(-1L, new byte[0], new byte[8]), "header length 18446744073709551615 is beyond the file");
        assertInvalid(withHeader(Long.MAX_VALUE, new byte[0], new byte[8]), "is beyond the file");
        assertInvalid(Arrays.copyOf(valid, valid.length - 1), "outside the data section");
    }

    @Test
    void headerOver100MbIsRejectedBeforeItIsRead() {
        ByteBuffer file = ByteBuffer.allocate(8 + 100_000_001).order(ByteOrder.LITTLE_ENDIAN).putLong(0, 100_000_001);
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> SafetensorsFile.parse(file, NAME));
        assertEquals(NAME + ": header length 100000001 exceeds the 100 MB limit", e.getMessage());
    }

    @Test
    void malformedJson() {
        assertInvalid(withHeader("{\"t\":", new byte[0]), "malformed header JSON");
        assertInvalid(withHeader("[1, 2]", new byte[0]), "malformed header JSON");
        assertInvalid(withHeader("null", new byte[0]), "malformed header JSON: not an object");
        assertInvalid(withHeader("{} {}", new byte[0]), "content after the header object");
        assertInvalid(withHeader("{\"a\": NaN}", new byte[0]), "malformed header JSON");
        assertInvalid(withHeader("{\"a\":" + "[".repeat(5000) + "]".repeat(5000) + "}", new byte[0]), "nesting depth");
        assertInvalid(withHeader(4, new byte[] {'{', '}', (byte) 0xc3, (byte) 0x28}, new byte[0]), "not valid UTF-8");
        assertInvalid(withHeader(4, new byte[] {'{', 0, '}', 0}, new byte[0]), "malformed header JSON"); // no UTF-16 guessing
        // Which of two duplicate entries a reader keeps is unspecified: rejected instead.
        String t = "{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}";
        assertInvalid(withHeader("{\"t\":" + t + ",\"t\":" + t + "}", new byte[1]), "Duplicate key");
        assertInvalid(entry("{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}", 1), "Duplicate key");
    }

    @Test
    void emptyHeaderAndPaddingAreValid() {
        assertTrue(parse(withHeader("{}", new byte[0])).keys().isEmpty());
        assertTrue(parse(withHeader("  {}        ", new byte[3])).keys().isEmpty());
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> parse(withHeader("{}", new byte[0])).tensor("x"));
        assertTrue(e.getMessage().contains("the file holds no tensors"), e.getMessage());
    }

    @Test
    void wrongJsonTypes() {
        assertInvalid(entry("5", 0), "tensor 't' is not a JSON object");
        assertInvalid(entry("[]", 0), "tensor 't' is not a JSON object");
        assertInvalid(entry("{\"shape\":[1],\"data_offsets\":[0,4]}", 4), "missing or non-string \"dtype\"");
        assertInvalid(entry("{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}", 4), "missing or non-string \"dtype\"");
        assertInvalid(entry("{\"dtype\":\"F32\",\"data_offsets\":[0,4]}", 4), "missing or non-array \"shape\"");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}", 4), "missing or non-array \"shape\"");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[1]}", 4), "missing or non-array \"data_offsets\"");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,4]}", 4), "\"shape\" holds a non-integer");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}", 4), "\"shape\" holds a non-integer");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}", 4), "\"shape\" holds a non-integer");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}", 4), "\"shape\" holds a negative value -1");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[3000000000],\"data_offsets\":[0,4]}", 4), "dimension 3000000000 is too large");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}", 4), "\"data_offsets\" has 1 elements, not 2");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,99999999999999999999]}", 4), "non-integer or too large");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-4,0]}", 4), "negative value -4");
        assertInvalid(withHeader("{\"__metadata__\":[1]}", new byte[0]), "\"__metadata__\" is not a JSON object");
        assertInvalid(withHeader("{\"__metadata__\":{\"a\":1}}", new byte[0]), "\"__metadata__\" value of 'a' is not a string");
    }

    @Test
    void unknownDtype() {
        assertInvalid(entry("{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}", 1), "tensor 't': unknown dtype \"F8_E4M3\"");
        assertInvalid(entry("{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}", 4), "unknown dtype \"f32\"");
        String longName = "X".repeat(100_000);
        InvalidWeightsException e = assertInvalid(entry("{\"dtype\":\"" + longName + "\",\"shape\":[1],\"data_offsets\":[0,4]}", 4), "unknown dtype");
        assertTrue(e.getMessage().length() < 200, "a corrupt header's long strings are cut short in messages");
    }

    @Test
    void dataRegionErrors() {
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,8]}", 4), "data_offsets [0, 8] are outside the data section of 4 bytes");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,0]}", 4), "data_offsets begin 4 > end 0");
        assertInvalid(entry("{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,4]}", 8), "data region of 4 bytes does not match shape [2] of F32 (8 bytes)");
        String huge = "2147483647,2147483647,2147483647";
        assertInvalid(entry("{\"dtype\":\"F64\",\"shape\":[" + huge + "],\"data_offsets\":[0,8]}", 8), "overflows the element count");
        assertInvalid(entry("{\"dtype\":\"F64\",\"shape\":[2147483647,1073741824],\"data_offsets\":[0,8]}", 8), "overflows the element count");
        // A zero dimension makes any shape empty.
        assertEquals(0, parse(entry("{\"dtype\":\"F64\",\"shape\":[" + huge + ",0],\"data_offsets\":[8,8]}", 8)).tensor("t").size());
    }

    @Test
    void overlappingRegions() {
        String json = "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]},"
                + "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[6,8]},"
                + "\"c\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[2,2]},"
                + "\"d\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[3,6]}}";
        assertInvalid(withHeader(json, new byte[8]), "tensors 'a' and 'd' overlap in the data section");
        // Empty regions overlap nothing; holes between regions are allowed.
        SafetensorsFile f = parse(withHeader(json.replace("[3,6]", "[4,5]").replace("[3]", "[1]"), new byte[8]));
        assertEquals(4, f.keys().size());
    }

    // ---- open(Path)

    @Test
    void openReadsAFile() {
        Path p = SafetensorsTestFiles.writeTo(dir, "ok.safetensors", single("w", "F16", shape(2), u16(0x3c00, 0xbc00)));
        try (SafetensorsFile f = SafetensorsFile.open(p)) {
            assertArrayEquals(new float[] {1, -1}, f.tensor("w", Shape.of(2)).toArray());
        }
    }

    @Test
    void openMissingFile() {
        Path p = dir.resolve("missing.safetensors");
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> SafetensorsFile.open(p));
        assertEquals(p + ": file not found", e.getMessage());
    }

    @Test
    void openTruncatedFile() throws Exception {
        byte[] valid = single("w", "F32", shape(4), f32(1, 2, 3, 4));
        Path p = Files.write(dir.resolve("cut.safetensors"), Arrays.copyOf(valid, 6));
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> SafetensorsFile.open(p));
        assertEquals(p + ": truncated: 6 bytes, less than the 8-byte header length", e.getMessage());
        Path q = Files.write(dir.resolve("cut2.safetensors"), Arrays.copyOf(valid, valid.length - 2));
        e = assertThrows(InvalidWeightsException.class, () -> SafetensorsFile.open(q));
        assertTrue(e.getMessage().startsWith(q + ": tensor 'w': data_offsets [0, 16] are outside the data section"), e.getMessage());
    }

    @Test
    void openADirectory() {
        InvalidWeightsException e = assertThrows(InvalidWeightsException.class, () -> SafetensorsFile.open(dir));
        assertTrue(e.getMessage().startsWith(dir.toString() + ": "), e.getMessage());
    }
}
