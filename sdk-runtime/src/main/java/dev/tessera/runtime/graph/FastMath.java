package dev.tessera.runtime.graph;

/** Float32 functions of the activations, cheaper than java.lang.Math's double versions. */
public final class FastMath {
    private FastMath() {}

    private static final float SIGMOID_RANGE = 16f;
    private static final int SIGMOID_STEPS = 1 << 16;
    private static final float[] SIGMOID = new float[SIGMOID_STEPS + 2];

    static {
        for (int i = 0; i < SIGMOID.length; i++) {
            SIGMOID[i] = (float) (1.0 / (1.0 + Math.exp(SIGMOID_RANGE - 2.0 * SIGMOID_RANGE * i / SIGMOID_STEPS)));
        }
    }

    /**
     * The logistic function by linear interpolation in a 256 KiB table over [-16, 16] (error below
     * 1e-7, a few times cheaper than computing an exponential per pixel); exact formula outside.
     */
    public static float sigmoid(float x) {
        if (!(x > -SIGMOID_RANGE && x < SIGMOID_RANGE)) return x > 0 ? 1f / (1f + expf(-x)) : expf(x) / (1f + expf(x));
        double t = (x + (double) SIGMOID_RANGE) * (SIGMOID_STEPS / (2.0 * SIGMOID_RANGE)); // double: keep x's precision
        int i = (int) t;
        float f = (float) (t - i);
        return SIGMOID[i] + f * (SIGMOID[i + 1] - SIGMOID[i]);
    }

    /**
     * e^x in float32, within 3 ulp: Math.exp works in double and is the cost of SiLU on large maps.
     * Range reduction x = n ln2 + r (|r| <= ln2/2, ln2 split in two for exactness), a degree-6
     * polynomial for e^r, then the exponent n put into the bits.
     */
    public static float expf(float x) {
        if (x > 88.72f) return Float.POSITIVE_INFINITY;
        if (x < -87.33f) return 0f;
        float n = (float) Math.floor(x * 1.44269504f + 0.5f);
        float r = x - n * 0.693145752f - n * 1.42860677e-6f;
        float p = 1f + r * (1f + r * (0.5f + r * (0.166666672f + r * (0.0416666418f + r * (0.00833342969f + r * 0.00138889754f)))));
        int e = (int) n;
        return e > 127 ? p * 2f * Float.intBitsToFloat((e + 126) << 23) : p * Float.intBitsToFloat((e + 127) << 23);
    }
}
