package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudnn.*;

import dev.tessera.DeviceException;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.tensor.Shape;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.javacpp.FloatPointer;
import org.jspecify.annotations.Nullable;

/**
 * Convolutions of full NCHW maps through cuDNN. The algorithm is chosen once per shape by timing
 * cuDNN's candidates (as PyTorch's cudnn.benchmark does) and kept with its descriptors; one
 * workspace grows to the largest need. The lanes of an executor each have their own (a handle and a
 * workspace on their stream) and share the first one's plans, so a conv runs the same algorithm
 * whichever lane runs it. float32 mode uses plain FMA math (no TF32) so results match
 * the reference within 1e-4; float16 mode uses tensor cores with float32 accumulation.
 */
final class Convolutions implements AutoCloseable {
    private static final long MAX_WORKSPACE = 1L << 30;

    private record Key(Op.Conv2d op, Shape x, Shape y, int padH, int padW) {}

    private static final class Plan {
        final cudnnTensorStruct x = new cudnnTensorStruct(), y = new cudnnTensorStruct();
        final cudnnFilterStruct w = new cudnnFilterStruct();
        final cudnnConvolutionStruct conv = new cudnnConvolutionStruct();
        int algo;
        long workspace;
    }

    private final cudnnContext handle = new cudnnContext();
    private final int dataType;
    private final int mathType;
    private final FloatPointer one = new FloatPointer(1f), zero = new FloatPointer(0f);
    private final Map<Key, Plan> plans;
    private final boolean ownsPlans;
    private DeviceBuffer workspace = DeviceBuffer.allocate(0);
    private int workspaceGeneration;

    /** @param sharePlansWith the convolutions whose plans these use (another lane's), or null for their own */
    Convolutions(CUstream_st stream, boolean half, @Nullable Convolutions sharePlansWith) {
        plans = sharePlansWith == null ? new HashMap<>() : sharePlansWith.plans;
        ownsPlans = sharePlansWith == null;
        check(cudnnCreate(handle), "cudnnCreate");
        check(cudnnSetStream(handle, stream), "cudnnSetStream");
        dataType = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
        mathType = half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
    }

    /** {@code y = conv(x, weight)} without bias; x and y packed NCHW at device addresses. */
    void run(Op.Conv2d op, long weight, long x, Shape xs, long y, Shape ys, int padH, int padW) {
        Plan p = plans.computeIfAbsent(new Key(op, xs, ys, padH, padW), this::plan);
        if (workspace.bytes() < p.workspace) {
            workspace.close();
            workspace = DeviceBuffer.allocate(p.workspace);
            workspaceGeneration++;
        }
        check(cudnnConvolutionForward(handle, one, p.x, CudaDevice.at(x), p.w, CudaDevice.at(weight), p.conv, p.algo,
                CudaDevice.at(workspace.address), p.workspace, zero, p.y, CudaDevice.at(y)), "cudnnConvolutionForward(" + xs + " -> " + ys + ")");
    }

    /** Bumped whenever the workspace moves: captured graphs that used the old one are stale. */
    int workspaceGeneration() {
        return workspaceGeneration;
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
            check(cudnnFindConvolutionForwardAlgorithm(handle, p.x, p.w, p.conv, p.y, max, returned, perf),
                    "cudnnFindConvolutionForwardAlgorithm");
            for (int i = 0; i < returned[0]; i++) { // fastest first
                cudnnConvolutionFwdAlgoPerf_t r = perf.getPointer(i);
                if (r.status() != CUDNN_STATUS_SUCCESS || r.memory() > MAX_WORKSPACE) continue;
                p.algo = r.algo();
                p.workspace = r.memory();
                if (mathType != CUDNN_FMA_MATH) { // float16: the math the timing used; float32 stays FMA (no TF32)
                    check(cudnnSetConvolutionMathType(p.conv, r.mathType()), "cudnnSetConvolutionMathType");
                }
                return p;
            }
        }
        throw new DeviceException("cuDNN has no algorithm for the convolution " + k);
    }

    private void describe(cudnnTensorStruct t, Shape s) {
        check(cudnnSetTensor4dDescriptor(t, CUDNN_TENSOR_NCHW, dataType, s.n(), s.c(), s.h(), s.w()), "cudnnSetTensor4dDescriptor(" + s + ")");
    }

    private static void check(int status, String call) {
        if (status != CUDNN_STATUS_SUCCESS) {
            throw new DeviceException(call + " failed: " + cudnnGetErrorString(status).getString());
        }
    }

    @Override
    public void close() {
        if (ownsPlans) destroyPlans();
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
