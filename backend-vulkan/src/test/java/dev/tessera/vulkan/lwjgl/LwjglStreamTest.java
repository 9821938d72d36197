package dev.tessera.vulkan.lwjgl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.BackendUnavailableException;
import dev.tessera.DeviceException;
import dev.tessera.vulkan.Kernel;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Streams on a device of their own: passes run as if in order, commands that do not depend on each
 * other together, repeat by replaying their recording, and stop at close.
 */
class LwjglStreamTest {
    private static LwjglDevice device;

    @BeforeAll
    static void open() {
        try {
            device = LwjglDevice.open();
        } catch (BackendUnavailableException e) {
            assumeTrue(false, "no Vulkan: " + e.getMessage());
        }
    }

    @AfterAll
    static void close() {
        if (device != null) device.close();
    }

    /** y = x * 2 + 1 over n floats, through the channel_affine kernel with one channel. */
    private static float[] affine(LwjglStream stream, long scale, long shift, float[] x) {
        int n = x.length;
        FloatBuffer host = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer().put(x).flip();
        long in = stream.scratch(4L * n), out = stream.scratch(4L * n);
        stream.upload(host, in);
        int[] params = {1, n, n, 0, 0}; // channels, plane, total, no activation, slope
        stream.dispatch(Kernel.CHANNEL_AFFINE, false, null, (n + 255) / 256, 1, new long[] {in, out, scale, shift}, 4, params, params.length);
        FloatBuffer result = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
        stream.download(out, result);
        stream.submit();
        float[] y = new float[n];
        result.get(y);
        return y;
    }

    private static long constant(LwjglStream stream, float value) {
        long address = device.allocate(4);
        stream.upload(ByteBuffer.allocateDirect(4).order(ByteOrder.nativeOrder()).putFloat(0, value), address);
        stream.submit();
        return address;
    }

    @Test
    void aRepeatedPassReplaysItsRecordingOnNewInputs() {
        try (LwjglStream stream = (LwjglStream) device.newStream()) {
            long two = constant(stream, 2f), one = constant(stream, 1f);
            int before = stream.recordingCount();
            assertArrayEquals(new float[] {1, 3, 5}, affine(stream, two, one, new float[] {0, 1, 2}));
            assertArrayEquals(new float[] {21, -1, 1}, affine(stream, two, one, new float[] {10, -1, 0}));
            assertEquals(before + 1, stream.recordingCount(), "the second pass is the first one replayed");
            assertArrayEquals(new float[] {1, 3, 5, 7}, affine(stream, two, one, new float[] {0, 1, 2, 3}));
            assertEquals(before + 2, stream.recordingCount(), "a pass of another size is recorded anew");
            device.free(two);
            device.free(one);
        }
    }

    private static void affine(LwjglStream stream, long scale, long shift, long in, long out, int n) {
        int[] params = {1, n, n, 0, 0}; // channels, plane, total, no activation, slope
        stream.dispatch(Kernel.CHANNEL_AFFINE, false, null, (n + 255) / 256, 1, new long[] {in, out, scale, shift}, 4, params, params.length);
    }

    @Test
    void commandsThatDoNotDependOnEachOtherShareALevel() {
        try (LwjglStream stream = (LwjglStream) device.newStream()) {
            long two = constant(stream, 2f), one = constant(stream, 1f);
            float[] x = {0, 1, 2};
            int n = x.length;
            long a = stream.scratch(4L * n), b = stream.scratch(4L * n), c = stream.scratch(4L * n);
            stream.upload(ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer().put(x).flip(), a); // level 1
            affine(stream, two, one, a, b, n); // level 2
            affine(stream, two, one, a, c, n); // level 2: reads a, as the one before
            affine(stream, two, one, b, a, n); // level 3: writes a, which both read
            FloatBuffer fromA = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
            FloatBuffer fromC = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
            stream.download(a, fromA); // level 4
            stream.download(c, fromC); // level 3
            stream.submit();
            assertEquals(3, stream.lastBarriers(), "barriers between 4 levels of 6 commands");
            float[] y = new float[n], z = new float[n];
            fromA.get(y);
            fromC.get(z);
            assertArrayEquals(new float[] {3, 7, 11}, y);
            assertArrayEquals(new float[] {1, 3, 5}, z);
            device.free(two);
            device.free(one);
        }
    }

    @Test
    void scratchReleasedInAPassIsNotHandedOutAgainAtOnce() {
        try (LwjglStream stream = (LwjglStream) device.newStream()) {
            long two = constant(stream, 2f), one = constant(stream, 1f);
            int n = 3;
            long x = stream.scratch(4L * n), y = stream.scratch(4L * n), t = stream.scratch(4L * n);
            stream.upload(ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer().put(new float[] {0, 1, 2}).flip(), x);
            affine(stream, two, one, x, t, n); // level 2: t = 2x + 1
            affine(stream, two, one, t, y, n); // level 3: y = 2t + 1
            stream.release(t);
            long u = stream.scratch(4L * n); // immediate reuse of t would order the next command after the last one
            assertEquals(true, u != t, "released scratch parked, not reused at once");
            affine(stream, two, one, x, u, n); // level 2 again: reads only x
            FloatBuffer result = ByteBuffer.allocateDirect(4 * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
            stream.download(y, result); // level 4
            stream.submit();
            assertEquals(3, stream.lastBarriers(), "barriers between 4 levels");
            float[] r = new float[n];
            result.get(r);
            assertArrayEquals(new float[] {3, 7, 11}, r);
            device.free(two);
            device.free(one);
        }
    }

    @Test
    void aDiscardedPassRunsNothingAndFreesItsScratch() {
        try (LwjglStream stream = (LwjglStream) device.newStream()) {
            long first = stream.scratch(1000);
            stream.discard();
            assertEquals(first, stream.scratch(1000), "the same scratch memory again");
            stream.discard();
        }
    }

    @Test
    void aClosedDeviceRefusesWork() {
        LwjglDevice other = LwjglDevice.open();
        LwjglStream stream = (LwjglStream) other.newStream();
        other.close();
        DeviceException e = assertThrows(DeviceException.class, () -> stream.scratch(16));
        assertEquals(true, e.getMessage().contains("closed"), e.getMessage());
        stream.close();
        other.free(0x1234); // freeing after close is a no-op
    }
}
