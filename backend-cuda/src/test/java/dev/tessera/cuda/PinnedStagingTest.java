package dev.tessera.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.Test;

/** The host side of the staging copies (no GPU needed): every float lands once, in order, at the destination's position. */
class PinnedStagingTest {
    @Test
    void copiesSmallAndLargeRangesBetweenPositions() {
        for (int n : new int[] {0, 1, 1000, (1 << 18) - 1, (1 << 20) + 7}) {
            FloatBuffer src = direct(n + 3), dst = direct(n + 5);
            for (int i = 0; i < n + 3; i++) src.put(i, i * 0.5f);
            src.position(3);
            dst.position(5);
            PinnedStaging.copy(src, dst);
            assertEquals(3, src.position(), "the source's position stays");
            for (int i = 0; i < n; i++) {
                if (dst.get(5 + i) != (i + 3) * 0.5f) assertEquals((i + 3) * 0.5f, dst.get(5 + i), "float " + i + " of " + n);
            }
            for (int i = 0; i < 5; i++) assertEquals(0f, dst.get(i), "before the destination's position");
        }
    }

    private static FloatBuffer direct(int floats) {
        return ByteBuffer.allocateDirect(4 * floats).order(ByteOrder.nativeOrder()).asFloatBuffer();
    }
}
