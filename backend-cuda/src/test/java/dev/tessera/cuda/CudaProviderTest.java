package dev.tessera.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.BackendUnavailableException;
import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.Backends;
import org.junit.jupiter.api.Test;

/** The provider on any machine: found by ServiceLoader, and either usable or unavailable with a reason, never a crash. */
class CudaProviderTest {
    @Test
    void isFoundAndRankedAboveTheCpu() {
        BackendProvider cuda = Backends.all().stream().filter(p -> p.name().equals("cuda")).findFirst().orElseThrow();
        assertTrue(cuda.rank() > 0);
        if (cuda.unavailableReason() == null) {
            assertEquals("cuda", Backends.best().name());
            assertFalse(cuda.devices().isEmpty());
        } else {
            assertEquals("cpu", Backends.best().name());
            assertTrue(cuda.devices().isEmpty());
        }
    }

    @Test
    void unavailableCudaSaysWhyWhenAskedFor() {
        String reason = new CudaBackendProvider().unavailableReason();
        if (reason == null) return; // a GPU is present: nothing to refuse
        assertNotNull(reason);
        BackendUnavailableException e = assertThrows(BackendUnavailableException.class, () -> Backends.choose("cuda"));
        assertTrue(e.getMessage().contains(reason), e.getMessage());
    }
}
