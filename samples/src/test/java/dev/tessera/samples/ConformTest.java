package dev.tessera.samples;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The conform command passes (exit code 0) on every golden case the CPU backend supports. */
class ConformTest {
    @ParameterizedTest
    @ValueSource(strings = {"conv", "gaugan", "ddpm"})
    void goldenCasePasses(String name) throws Exception {
        Path dir = Path.of(System.getProperty("tessera.golden", "../testdata/golden"), name);
        assertEquals(0, Conform.run(new String[] {dir.toString()}));
    }
}
