package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudart.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.SizeTPointer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Argument packing against the kernels' own parameter layout, and a round trip through two kernels. */
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
}
