package dev.tessera.runtime.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ExpfTest {
    @Test
    void withinThreeUlpOverTheFloatRange() {
        float worst = 0;
        for (float x = -87f; x <= 88.5f; x += 0.000731f) {
            float expected = (float) Math.exp(x);
            float ulps = Math.abs(Op.expf(x) - expected) / Math.ulp(expected);
            worst = Math.max(worst, ulps);
        }
        assertTrue(worst <= 3, "worst error " + worst + " ulp");
        assertEquals(0f, Op.expf(-100f));
        assertEquals(Float.POSITIVE_INFINITY, Op.expf(100f));
        assertEquals(1f, Op.expf(0f));
    }
}
