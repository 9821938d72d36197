package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudart.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.bytedeco.cuda.cudart.CUstream_st;
import java.util.Random;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Argument packing against the kernels' own parameter layout, a round trip through two kernels,
 * and the implicit-GEMM and narrow convolutions against a direct one on the host.
 */
class KernelsTest {
    @BeforeAll
    static void needsGpu() {
        assumeTrue(CudaDevice.unavailableReason() == null, () -> "no CUDA: " + CudaDevice.unavailableReason());
    }

    @Test
    void parameterOffsetsAreNatural() {
        CudaDevice d = CudaDevice.get();
        try (SizeTPointer offset = new SizeTPointer(1); SizeTPointer size = new SizeTPointer(1)) {
            long[][] expected = {{0, 8}, {8, 8}, {16, 8}}; // to_half(const float*, __half*, i64)
            for (int i = 0; i < expected.length; i++) {
                CudaDevice.checkDriver(cuFuncGetParamInfo(d.function("to_half"), i, offset, size), "cuFuncGetParamInfo");
                assertEquals(expected[i][0], offset.get(), "offset of parameter " + i);
                assertEquals(expected[i][1], size.get(), "size of parameter " + i);
            }
        }
    }

    @Test
    void halfRoundTrip() {
        CudaDevice d = CudaDevice.get();
        CudaDevice.bindThread();
        CUstream_st stream = new CUstream_st();
        CudaDevice.check(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        int n = 1000;
        float[] values = new float[n];
        for (int i = 0; i < n; i++) values[i] = i * 0.25f - 100;
        try (Kernels k = new Kernels(d, stream, true); FloatPointer host = new FloatPointer(values);
                DeviceBuffer f32 = DeviceBuffer.upload(host, 4L * n); DeviceBuffer f16 = DeviceBuffer.allocate(2L * n);
                DeviceBuffer back = DeviceBuffer.allocate(4L * n); FloatPointer out = new FloatPointer(n)) {
            k.callExact("to_half").ptr(f32.address).ptr(f16.address).l(n).launch(n);
            k.callExact("to_float").ptr(f16.address).ptr(back.address).l(n).launch(n);
            CudaDevice.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
            CudaDevice.check(cudaMemcpy(out, CudaDevice.at(back.address), 4L * n, cudaMemcpyDeviceToHost), "cudaMemcpy");
            for (int i = 0; i < n; i++) assertEquals(values[i], out.get(i), "element " + i); // exact in float16
        } finally {
            cudaStreamDestroy(stream);
        }
    }

    /** One conv_igemm_f16 case: x [cin, count, h, w], out [cout, count, oh, ow]; kPerSlice < K splits K. */
    private record ConvCase(int count, int cin, int h, int w, int cout, int kernel, int stride, int pad, int kPerSlice, int act) {
        int oh() {
            return (h + 2 * pad - kernel) / stride + 1;
        }

        int ow() {
            return (w + 2 * pad - kernel) / stride + 1;
        }
    }

    @Test
    void implicitGemmConvolutionMatchesADirectOne() {
        ConvCase[] cases = {
            new ConvCase(3, 16, 10, 10, 40, 3, 1, 0, 1 << 20, 1), // tiles, one slice, ReLU
            new ConvCase(3, 16, 10, 10, 40, 3, 1, 0, 32, 0), // the same, K split into 5 slices
            new ConvCase(1, 3, 9, 9, 70, 3, 2, 1, 1 << 20, 2), // a padded strided map, K = 27 (no vector loads), 2 row blocks
            new ConvCase(2, 64, 4, 12, 8, 1, 1, 0, 32, 0), // 1x1, split
            new ConvCase(1, 72, 17, 17, 130, 3, 1, 1, 96, 3), // columns and rows that fill no whole block, SiLU
            new ConvCase(2, 8, 12, 12, 300, 3, 1, 1, 32, 0), // 3 row blocks, split
            new ConvCase(1, 32, 11, 11, 16, 5, 2, 2, 1 << 20, 0), // 5x5, stride 2
        };
        CudaDevice d = CudaDevice.get();
        CudaDevice.bindThread();
        CUstream_st stream = new CUstream_st();
        CudaDevice.check(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        try (Kernels k = new Kernels(d, stream, true); DeviceBuffer arrivals = DeviceBuffer.allocate(4096 * 4)) {
            CudaDevice.check(cudaMemset(CudaDevice.at(arrivals.address), 0, arrivals.bytes()), "cudaMemset");
            Random random = new Random(7);
            for (ConvCase c : cases) {
                int kk = c.cin() * c.kernel() * c.kernel(), positions = c.count() * c.oh() * c.ow();
                float[] x = halves(random, c.cin() * c.count() * c.h() * c.w()), w = halves(random, c.cout() * kk);
                float[] bias = biases(random, c.cout());
                int slices = (kk + c.kPerSlice() - 1) / c.kPerSlice();
                float[] got;
                try (DeviceBuffer dx = toHalf(k, x); DeviceBuffer dw = toHalf(k, w); FloatPointer hb = new FloatPointer(bias);
                        DeviceBuffer db = DeviceBuffer.upload(hb, 4L * bias.length); DeviceBuffer out = DeviceBuffer.allocate(2L * c.cout() * positions);
                        DeviceBuffer partial = DeviceBuffer.allocate(4L * slices * c.cout() * positions)) {
                    k.callExact("conv_igemm_f16").ptr(dx.address).ptr(dw.address).ptr(db.address).ptr(out.address).ptr(partial.address)
                            .ptr(arrivals.address).i(c.count()).i(c.h()).i(c.w()).i(c.cin()).i(c.cout()).i(c.kernel()).i(c.kernel())
                            .i(c.stride()).i(c.pad()).i(c.pad()).i(c.oh()).i(c.ow()).i(c.kPerSlice()).i(c.act()).f(0.2f)
                            .launch((positions + CudaExecutor.IMPLICIT_BLOCK_N - 1) / CudaExecutor.IMPLICIT_BLOCK_N,
                                    (c.cout() + CudaExecutor.IMPLICIT_BLOCK_M - 1) / CudaExecutor.IMPLICIT_BLOCK_M, slices,
                                    CudaExecutor.IMPLICIT_THREADS);
                    got = toFloat(k, stream, out.address, c.cout() * positions);
                }
                assertMatchesDirect("", c, x, w, bias, got, 2e-3);
            }
        } finally {
            cudaStreamDestroy(stream);
        }
    }

    @Test
    void narrowConvolutionMatchesADirectOne() {
        ConvCase[] cases = { // one map each (count 1); kPerSlice unused
            new ConvCase(1, 128, 37, 45, 3, 3, 1, 1, 0, 0), // an RGB output conv; blocks cut by the map's edge
            new ConvCase(1, 20, 8, 32, 4, 3, 1, 1, 0, 4), // channels in one partial chunk, tanh
            new ConvCase(1, 17, 11, 9, 1, 3, 1, 0, 0, 2), // unpadded, one output channel, leaky ReLU
        };
        CudaDevice d = CudaDevice.get();
        CudaDevice.bindThread();
        CUstream_st stream = new CUstream_st();
        CudaDevice.check(cudaStreamCreateWithFlags(stream, cudaStreamNonBlocking), "cudaStreamCreateWithFlags");
        Random random = new Random(11);
        try {
            for (boolean half : new boolean[] {false, true}) {
                try (Kernels k = new Kernels(d, stream, half)) {
                    for (ConvCase c : cases) {
                        float[] x = halves(random, c.cin() * c.h() * c.w()), w = halves(random, c.cout() * c.cin() * 9);
                        float[] bias = biases(random, c.cout());
                        int positions = c.oh() * c.ow();
                        float[] got;
                        try (DeviceBuffer dx = upload(k, x, half); DeviceBuffer dw = upload(k, w, half); FloatPointer hb = new FloatPointer(bias);
                                DeviceBuffer db = DeviceBuffer.upload(hb, 4L * bias.length);
                                DeviceBuffer out = DeviceBuffer.allocate((half ? 2L : 4L) * c.cout() * positions)) {
                            k.call("conv_narrow").ptr(dx.address).ptr(dw.address).ptr(db.address).ptr(out.address).i(c.cin()).i(c.cout())
                                    .i(c.h()).i(c.w()).i(c.oh()).i(c.ow()).i(c.pad()).i(c.pad()).i(c.act()).f(0.2f)
                                    .launch((c.ow() + CudaExecutor.NARROW_W - 1) / CudaExecutor.NARROW_W,
                                            (c.oh() + CudaExecutor.NARROW_H - 1) / CudaExecutor.NARROW_H, 1, CudaExecutor.NARROW_THREADS);
                            got = half ? toFloat(k, stream, out.address, c.cout() * positions) : download(stream, out.address, c.cout() * positions);
                        }
                        assertMatchesDirect(half ? "float16 " : "float32 ", c, x, w, bias, got, half ? 2e-3 : 1e-5);
                    }
                }
            }
        } finally {
            cudaStreamDestroy(stream);
        }
    }

    /** Every output of {@code got} [Cout, positions] against the host's direct conv, within tolerance * max(1, |want|). */
    private static void assertMatchesDirect(String what, ConvCase c, float[] x, float[] w, float[] bias, float[] got, double tolerance) {
        int positions = c.count() * c.oh() * c.ow();
        for (int co = 0; co < c.cout(); co++) {
            for (int p = 0; p < positions; p++) {
                double want = activate(direct(c, x, w, co, p) + bias[co], c.act());
                int row = co, column = p; // the message is built only on failure
                assertEquals(want, got[co * positions + p], tolerance * Math.max(1, Math.abs(want)),
                        () -> what + c + " at [" + row + ", " + column + "]");
            }
        }
    }

    private static float[] biases(Random random, int n) {
        float[] bias = new float[n];
        for (int i = 0; i < n; i++) bias[i] = random.nextFloat() - 0.5f;
        return bias;
    }

    /** Random values that float16 holds exactly, so the host reference sees what the kernel sees. */
    private static float[] halves(Random random, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = Math.round((random.nextFloat() - 0.5f) * 256) / 256f;
        return v;
    }

    private static double direct(ConvCase c, float[] x, float[] w, int co, int p) {
        int t = p / (c.oh() * c.ow()), oy = p % (c.oh() * c.ow()) / c.ow(), ox = p % c.ow();
        double sum = 0;
        for (int ci = 0; ci < c.cin(); ci++) {
            for (int ky = 0; ky < c.kernel(); ky++) {
                for (int kx = 0; kx < c.kernel(); kx++) {
                    int iy = oy * c.stride() - c.pad() + ky, ix = ox * c.stride() - c.pad() + kx;
                    if (iy < 0 || iy >= c.h() || ix < 0 || ix >= c.w()) continue;
                    sum += (double) w[((co * c.cin() + ci) * c.kernel() + ky) * c.kernel() + kx]
                            * x[((ci * c.count() + t) * c.h() + iy) * c.w() + ix];
                }
            }
        }
        return sum;
    }

    private static double activate(double v, int act) {
        return switch (act) {
            case 1 -> Math.max(0, v);
            case 2 -> v > 0 ? v : 0.2 * v;
            case 3 -> v / (1 + Math.exp(-v));
            case 4 -> Math.tanh(v);
            default -> v;
        };
    }

    private static DeviceBuffer toHalf(Kernels k, float[] values) {
        try (FloatPointer host = new FloatPointer(values); DeviceBuffer f32 = DeviceBuffer.upload(host, 4L * values.length)) {
            DeviceBuffer f16 = DeviceBuffer.allocate(2L * values.length);
            k.callExact("to_half").ptr(f32.address).ptr(f16.address).l(values.length).launch(values.length);
            CudaDevice.check(cudaDeviceSynchronize(), "cudaDeviceSynchronize"); // before f32 is freed
            return f16;
        }
    }

    /** values on the device in the kernels' storage type. */
    private static DeviceBuffer upload(Kernels k, float[] values, boolean half) {
        if (half) return toHalf(k, values);
        try (FloatPointer host = new FloatPointer(values)) {
            return DeviceBuffer.upload(host, 4L * values.length);
        }
    }

    private static float[] toFloat(Kernels k, CUstream_st stream, long f16, int n) {
        try (DeviceBuffer f32 = DeviceBuffer.allocate(4L * n)) {
            k.callExact("to_float").ptr(f16).ptr(f32.address).l(n).launch(n);
            return download(stream, f32.address, n);
        }
    }

    private static float[] download(CUstream_st stream, long f32, int n) {
        try (FloatPointer host = new FloatPointer(n)) {
            CudaDevice.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
            CudaDevice.check(cudaMemcpy(host, CudaDevice.at(f32), 4L * n, cudaMemcpyDeviceToHost), "cudaMemcpy");
            float[] v = new float[n];
            host.get(v);
            return v;
        }
    }
}
