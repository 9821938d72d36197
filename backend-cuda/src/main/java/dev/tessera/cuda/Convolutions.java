package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudnn.*;

import dev.tessera.DeviceException;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.tensor.Shape;
import java.util.HashMap;
import java.util.Map;
import java.util.function.Function;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.cudnn.cudnnContext;
import org.bytedeco.cuda.cudnn.cudnnConvolutionFwdAlgoPerf_t;
import org.bytedeco.cuda.cudnn.cudnnConvolutionStruct;
import org.bytedeco.cuda.cudnn.cudnnFilterStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Convolutions of full NCHW maps through cuDNN, on one stream (each lane of an executor has its
 * own: a handle and a workspace that grows to the largest need). The algorithm is chosen once
 * per shape by timing cuDNN's candidates (as PyTorch's cudnn.benchmark does) and kept with its
 * descriptors in the model's {@link Plans}, so every lane and every session of a model runs a
 * conv the same way and gets the same numbers, as with the model's conv ways. float32 mode uses
 * plain FMA math (no TF32) so results match the reference within 1e-4; float16 mode uses tensor
 * cores with float32 accumulation.
 */
final class Convolutions implements AutoCloseable {
    private static final long MAX_WORKSPACE = 1L << 30;

    private record Key(Op.Conv2d op, Shape x, Shape y, int padH, int padW) {}

    /** The chosen algorithms and their descriptors, kept by the model for all its executors. */
    static final class Plans implements AutoCloseable {
        private final Map<Key, Plan> plans = new HashMap<>();

        /** The plan of {@code key}, made (timed by the caller's handle) the first time; one at a time. */
        synchronized Plan get(Key key, Function<Key, Plan> make) {
            return plans.computeIfAbsent(key, make);
        }

        @Override
        public synchronized void close() {
            for (Plan p : plans.values()) {
                cudnnDestroyTensorDescriptor(p.x);
                cudnnDestroyTensorDescriptor(p.y);
                cudnnDestroyFilterDescriptor(p.w);
                cudnnDestroyConvolutionDescriptor(p.conv);
            }
            plans.clear();
        }
    }

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
    private final Plans plans;
    private DeviceBuffer workspace = DeviceBuffer.allocate(0);
    private int workspaceGeneration;

    Convolutions(CUstream_st stream, boolean half, Plans plans) {
        this.plans = plans;
        check(cudnnCreate(handle), "cudnnCreate");
        check(cudnnSetStream(handle, stream), "cudnnSetStream");
        dataType = half ? CUDNN_DATA_HALF : CUDNN_DATA_FLOAT;
        mathType = half ? CUDNN_TENSOR_OP_MATH : CUDNN_FMA_MATH;
    }

    /** {@code y = conv(x, weight)} without bias; x and y packed NCHW at device addresses. */
    void run(Op.Conv2d op, long weight, long x, Shape xs, long y, Shape ys, int padH, int padW) {
        Plan p = plans.get(new Key(op, xs, ys, padH, padW), this::plan);
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
            // Twice, keeping the second: the first search of a process times each candidate once,
            // with whatever is still cold (CUDA loads kernels lazily, on first launch) timed in. On
            // an H100 the first DDPM model of a process kept an algorithm that runs its 256x256
            // conv_out in 200 us where later models' searches found one of 67 us.
            for (int search = 0; search < 2; search++) {
                check(cudnnFindConvolutionForwardAlgorithm(handle, p.x, p.w, p.conv, p.y, max, returned, perf),
                        "cudnnFindConvolutionForwardAlgorithm");
            }
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
        workspace.close();
        cudnnDestroy(handle);
        one.close();
        zero.close();
    }
}
