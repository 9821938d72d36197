package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cublas.*;
import static org.bytedeco.cuda.global.cudart.*;

import java.util.ArrayList;
import java.util.List;
import org.bytedeco.cuda.cublas.cublasContext;
import org.bytedeco.cuda.cudart.CUevent_st;
import org.bytedeco.cuda.cudart.CUstream_st;

/**
 * One stream of an executor and everything work on it keeps for itself, so that lanes can run
 * side by side ({@link dev.tessera.runtime.sparse.StepLanes}): a kernel launcher, a cuBLAS
 * handle and workspace, cuDNN (a handle and workspace; the plans are the model's), transient
 * memory (a free block is reused at once, which is safe only in one stream's order), and
 * conv_igemm_f16's split-K counters (one set per launch in flight).
 */
final class Lane implements AutoCloseable {
    final CUstream_st stream = new CUstream_st();
    final Kernels kernels;
    final Convolutions convolutions;
    final TransientArena arena;
    final cublasContext blas = new cublasContext();
    final DeviceBuffer arrivals;
    /** Recorded on this lane when a pass joins it back into the first lane. */
    final CUevent_st joined = new CUevent_st();
    /** The transient buffers this lane took in the current pass. */
    final List<Long> transients = new ArrayList<>();
    private final DeviceBuffer blasWorkspace = DeviceBuffer.allocate(32L << 20); // fixed, so cuBLAS can be captured

    /**
     * @param priority the stream's priority (lower runs first where kernels of several streams wait for the GPU)
     * @param cudnnPlans the model's cuDNN plans
     */
    Lane(CudaDevice device, boolean half, long arrivalCounters, int priority, Convolutions.Plans cudnnPlans) {
        CudaDevice.check(cudaStreamCreateWithPriority(stream, cudaStreamNonBlocking, priority), "cudaStreamCreateWithPriority");
        CudaDevice.check(cudaEventCreateWithFlags(joined, cudaEventDisableTiming), "cudaEventCreateWithFlags");
        kernels = new Kernels(device, stream, half);
        convolutions = new Convolutions(stream, half, cudnnPlans);
        arena = new TransientArena(stream);
        CudaDevice.checkBlas(cublasCreate_v2(blas), "cublasCreate");
        CudaDevice.checkBlas(cublasSetStream_v2(blas, stream), "cublasSetStream");
        CudaDevice.checkBlas(cublasSetWorkspace_v2(blas, CudaDevice.at(blasWorkspace.address), blasWorkspace.bytes()), "cublasSetWorkspace");
        arrivals = DeviceBuffer.allocate(arrivalCounters * Integer.BYTES);
        CudaDevice.check(cudaMemset(CudaDevice.at(arrivals.address), 0, arrivals.bytes()), "cudaMemset"); // each launch leaves them 0
    }

    /** What graphs captured on this lane depend on besides fixed buffers: the cuDNN workspace and the transient memory. */
    void addGenerations(List<Integer> to) {
        to.add(convolutions.workspaceGeneration());
        to.add(arena.generation());
    }

    void sync() {
        CudaDevice.check(cudaStreamSynchronize(stream), "cudaStreamSynchronize");
    }

    @Override
    public void close() {
        sync();
        arena.close();
        arrivals.close();
        blasWorkspace.close();
        convolutions.close();
        cublasDestroy_v2(blas);
        kernels.close();
        cudaEventDestroy(joined);
        cudaStreamDestroy(stream);
    }
}
