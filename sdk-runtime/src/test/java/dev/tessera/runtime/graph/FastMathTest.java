package dev.tessera.runtime.graph;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FastMathTest {
    @Test
    void withinThreeUlpOverTheFloatRange() {
        float worst = 0;
        for (float x = -87f; x <= 88.5f; x += 0.000731f) {
            float expected = (float) Math.exp(x);
            float ulps = Math.abs(FastMath.expf(x) - expected) / Math.ulp(expected);
            worst = Math.max(worst, ulps);
        }
        assertTrue(worst <= 3, "worst error " + worst + " ulp");
        assertEquals(0f, FastMath.expf(-100f));
        assertEquals(Float.POSITIVE_INFINITY, FastMath.expf(100f));
        assertEquals(1f, FastMath.expf(0f));
    }

    @Test
    void sigmoidTableWithin1e7() {
        double worst = 0;
        for (float x = -30f; x <= 30f; x += 0.000917f) worst = Math.max(worst, Math.abs(FastMath.sigmoid(x) - 1 / (1 + Math.exp(-x))));
        assertTrue(worst < 1e-7, "worst error " + worst);
    }
}
