package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudnn.*;

import dev.tessera.DeviceException;
import dev.tessera.runtime.graph.Op;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Convolutions through cuDNN, on full maps (NCHW) and on tile batches: tiles are channel-major
 * {@code [C, tiles, th, tw]}, which cuDNN reads as an N = tiles batch with strides
 * (th*tw, tiles*th*tw, tw, 1), so gathered tiles need no transpose. The algorithm is chosen once
 * per shape (cuDNN's heuristics, falling back to the next one it ranks if one is not supported for
 * the strides) and kept with its descriptors; one workspace grows to the largest need.
 * float32 mode uses plain FMA math (no TF32) so results match the reference within 1e-4;
 * float16 mode uses tensor cores with float32 accumulation.
 */
final class Convolutions implements AutoCloseable {
    private static final long MAX_WORKSPACE = 1L << 30;
    /** Tile batches change size with every edit: past this many shapes the plans start over. */
    private static final int MAX_PLANS = 2048;

    /** One input or output layout: batch, channels, height, width and the batch and channel strides. */
    record Layout(int n, int c, int h, int w, int nStride, int cStride) {
        static Layout packed(int n, int c, int h, int w) {
            return new Layout(n, c, h, w, c * h * w, h * w);
        }

        static Layout tiles(int count, int c, int th, int tw) {
            return new Layout(count, c, th, tw, th * tw, count * th * tw);
        }
    }

    private record Key(Op.Conv2d op, Layout x, Layout y, int padH, int padW) {}

    private static final class Plan {
        final cudnnTensorStruct x = new cudnnTensorStruct(), y = new cudnnTensorStruct();
        final cudnnFilterStruct w = new cudnnFilterStruct();
        final cudnnConvolutionStruct conv = new cudnnConvolutionStruct();
        int[] algos = new int[0];
        long[] workspace = new long[0];
        int choice;
    }

    private final cudnnContext handle = new cudnnContext();
    private final int dataType;
    private final int mathType;
    private final FloatPointer one = new FloatPointer(1f), zero = new FloatPointer(0f);
    private final Map<Key, Plan> plans = new HashMap<>();
    private DeviceBuffer workspace = DeviceBuffer.allocate(0);

    Convolutions(CUstream_st stream, boolean half) {
        check(cudnnCreate(handle), "cudnnCreate");
        check(cudnnSetStream(handle, stream), "cudnnSetStream");
        dataType = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
        mathType = half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
    }

    /** {@code y = conv(x, weight)} without bias; x and y at device addresses in the given layouts. */
    void run(Op.Conv2d op, long weight, long x, Layout xl, long y, Layout yl, int padH, int padW) {
        if (plans.size() >= MAX_PLANS) destroyPlans();
        Plan p = plans.computeIfAbsent(new Key(op, xl, yl, padH, padW), this::plan);
        while (true) {
            long ws = p.workspace[p.choice];
            if (workspace.bytes() < ws) {
                workspace.close();
                workspace = DeviceBuffer.allocate(ws);
            }
            int status = cudnnConvolutionForward(handle, one, p.x, CudaDevice.at(x), p.w, CudaDevice.at(weight), p.conv,
                    p.algos[p.choice], CudaDevice.at(workspace.address), ws, zero, p.y, CudaDevice.at(y));
            if (status == CUDNN_STATUS_SUCCESS) return;
            if (status != CUDNN_STATUS_NOT_SUPPORTED || p.choice + 1 >= p.algos.length) {
                check(status, "cudnnConvolutionForward(" + xl + " -> " + yl + ", algorithm " + p.algos[p.choice] + ")");
            }
            p.choice++;
        }
    }

    private Plan plan(Key k) {
        Plan p = new Plan();
        Op.Conv2d op = k.op();
        check(cudnnCreateTensorDescriptor(p.x), "cudnnCreateTensorDescriptor");
        check(cudnnCreateTensorDescriptor(p.y), "cudnnCreateTensorDescriptor");
        check(cudnnCreateFilterDescriptor(p.w), "cudnnCreateFilterDescriptor");
        check(cudnnCreateConvolutionDescriptor(p.conv), "cudnnCreateConvolutionDescriptor");
        describe(p.x, k.x());
        describe(p.y, k.y());
        check(cudnnSetFilter4dDescriptor(p.w, dataType, CUDNN_TENSOR_NCHW, op.outChannels(), op.inChannels(), op.kernelH(),
                op.kernelW()), "cudnnSetFilter4dDescriptor");
        check(cudnnSetConvolution2dDescriptor(p.conv, k.padH(), k.padW(), op.stride(), op.stride(), 1, 1,
                CUDNN_CROSS_CORRELATION, CUDNN_DATA_FLOAT), "cudnnSetConvolution2dDescriptor");
        check(cudnnSetConvolutionMathType(p.conv, mathType), "cudnnSetConvolutionMathType");
        int max = CUDNN_CONVOLUTION_FWD_ALGO_COUNT;
        try (cudnnConvolutionFwdAlgoPerf_t perf = new cudnnConvolutionFwdAlgoPerf_t(max)) {
            int[] returned = {0};
            check(cudnnGetConvolutionForwardAlgorithm_v7(handle, p.x, p.w, p.conv, p.y, max, returned, perf),
                    "cudnnGetConvolutionForwardAlgorithm_v7");
            int usable = 0;
            int[] algos = new int[returned[0]];
            long[] ws = new long[returned[0]];
            for (int i = 0; i < returned[0]; i++) {
                cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
                if (r.status() != CUDNN_STATUS_SUCCESS || r.memory() > MAX_WORKSPACE) continue;
                algos[usable] = r.algo();
                ws[usable++] = r.memory();
            }
            if (usable == 0) throw new DeviceException("cuDNN has no algorithm for the convolution " + k);
            p.algos = java.util.Arrays.copyOf(algos, usable);
            p.workspace = java.util.Arrays.copyOf(ws, usable);
        }
        return p;
    }

    private void describe(cudnnTensorStruct t, Layout l) {
        check(cudnnSetTensor4dDescriptorEx(t, dataType, l.n(), l.c(), l.h(), l.w(), l.nStride(), l.cStride(), l.w(), 1),
                "cudnnSetTensor4dDescriptorEx(" + l + ")");
    }

    private static void check(int status, String call) {
        if (status != CUDNN_STATUS_SUCCESS) {
            throw new DeviceException(call + " failed: " + cudnnGetErrorString(status).getString());
        }
    }

    @Override
    public void close() {
        destroyPlans();
        workspace.close();
        cudnnDestroy(handle);
        one.close();
        zero.close();
    }

    private void destroyPlans() {
        for (Plan p : plans.values()) {
            cudnnDestroyTensorDescriptor(p.x);
            cudnnDestroyTensorDescriptor(p.y);
            cudnnDestroyFilterDescriptor(p.w);
            cudnnDestroyConvolutionDescriptor(p.conv);
        }
        plans.clear();
    }
}
