package dev.tessera.vulkan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/** The SPIR-V in the jar is complete and was built from the GLSL as it is now (build-shaders.sh); Kernel knows what each writes. */
class ShadersTest {
    private static final Path GLSL = Path.of("src/main/glsl");

    @Test
    void everyKernelShipsItsSpirv() throws IOException {
        for (Kernel k : Kernel.values()) {
            for (boolean half : new boolean[] {false, true}) {
                try (InputStream in = Kernel.class.getResourceAsStream(k.spirvResource(half))) {
                    assertNotNull(in, k.spirvResource(half));
                    byte[] header = in.readNBytes(4);
                    assertEquals(0x07230203, (header[0] & 0xFF) | (header[1] & 0xFF) << 8 | (header[2] & 0xFF) << 16 | (header[3] & 0xFF) << 24,
                            "SPIR-V magic number of " + k.spirvResource(half));
                }
            }
        }
    }

    /** The buffers a shader (with its includes) declares without readonly. */
    private static Set<Integer> writtenBindings(Path shader) throws IOException {
        Set<Integer> written = new TreeSet<>();
        for (String line : Files.readAllLines(shader)) {
            Matcher include = Pattern.compile("#include \"(.+)\"").matcher(line);
            if (include.find()) written.addAll(writtenBindings(GLSL.resolve(include.group(1))));
            Matcher binding = Pattern.compile("layout\\(binding = (\\d+)\\) (readonly )?(writeonly )?buffer").matcher(line);
            if (binding.find() && binding.group(2) == null) written.add(Integer.parseInt(binding.group(1)));
        }
        return written;
    }

    @Test
    void kernelsNameTheBuffersTheirShadersWrite() throws IOException {
        for (Kernel k : Kernel.values()) {
            Set<Integer> declared = writtenBindings(GLSL.resolve(k.name().toLowerCase(Locale.ROOT) + ".comp"));
            Set<Integer> named = new TreeSet<>();
            for (int b = 0; b < k.buffers; b++) if (k.writes(b)) named.add(b);
            assertEquals(declared, named, k + "'s written bindings");
        }
    }

    @Test
    void spirvWasBuiltFromTheCurrentGlsl() throws IOException, NoSuchAlgorithmException {
        Map<String, String> built = new TreeMap<>();
        try (InputStream in = Kernel.class.getResourceAsStream("/dev/tessera/vulkan/shaders/sources.sha256")) {
            assertNotNull(in, "sources.sha256");
            for (String line : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                String[] hashAndName = line.trim().split("\\s+");
                built.put(hashAndName[1], hashAndName[0]);
            }
        }
        Map<String, String> now = new TreeMap<>();
        try (Stream<Path> files = Files.list(GLSL)) {
            for (Path f : (Iterable<Path>) files::iterator) {
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(f));
                now.put(f.getFileName().toString(), HexFormat.of().formatHex(digest));
            }
        }
        Set<String> changed = new TreeSet<>(now.keySet());
        changed.addAll(built.keySet());
        changed.removeIf(name -> Objects.equals(built.get(name), now.get(name)));
        assertEquals(Set.of(), changed, "GLSL changed since the SPIR-V was built: run backend-vulkan/build-shaders.sh and commit its output");
    }
}
