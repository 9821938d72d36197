package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudart.*;

import dev.tessera.BackendUnavailableException;
import dev.tessera.DeviceException;
import java.io.IOException;
import java.io.InputStream;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.cuda.cudart.CUfunc_st;
import org.bytedeco.cuda.cudart.CUmemPoolHandle_st;
import org.bytedeco.cuda.cudart.CUmod_st;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.jspecify.annotations.Nullable;

/**
 * The CUDA device Tessera runs on (device 0), opened once per process: the driver and runtime
 * loaded through JavaCPP, our kernels loaded from the fatbin in the jar, and the stream-ordered
 * memory pool set to keep freed memory for reuse. Probing never throws: a machine without a GPU
 * or driver gets an {@link #unavailableReason()}.
 */
final class CudaDevice {
    private static final String FATBIN = "/dev/tessera/cuda/tessera_kernels.fatbin";
    private static @Nullable CudaDevice instance;
    private static @Nullable String unavailable;

    final String name;
    final long memoryBytes;
    final int computeCapability;
    /** Streaming multiprocessors: how many thread blocks fill the GPU. */
    final int multiprocessors;
    private final CUmod_st module;
    private final Map<String, CUfunc_st> functions = new HashMap<>();

    private CudaDevice(String name, long memoryBytes, int computeCapability, int multiprocessors, CUmod_st module) {
        this.name = name;
        this.memoryBytes = memoryBytes;
        this.computeCapability = computeCapability;
        this.multiprocessors = multiprocessors;
        this.module = module;
    }

    /** The device, opening it on first use; throws with the reason when there is none. */
    static synchronized CudaDevice get() {
        if (instance == null && unavailable == null) probe();
        if (instance == null) throw new BackendUnavailableException("CUDA is unavailable: " + unavailable);
        return instance;
    }

    /** Why CUDA cannot be used here, or null when it can. */
    static synchronized @Nullable String unavailableReason() {
        if (instance == null && unavailable == null) probe();
        return unavailable;
    }

    private static void probe() {
        try {
            int[] count = {0};
            int err = cudaGetDeviceCount(count);
            if (err != cudaSuccess) {
                unavailable = "no usable CUDA driver or device (" + cudaGetErrorString(err).getString() + ")";
                return;
            }
            if (count[0] == 0) {
                unavailable = "no CUDA device";
                return;
            }
            check(cudaSetDevice(0), "cudaSetDevice");
            cudaDeviceProp p = new cudaDeviceProp();
            check(cudaGetDeviceProperties(p, 0), "cudaGetDeviceProperties");
            int cc = p.major() * 10 + p.minor();
            if (cc < 80) {
                unavailable = p.name().getString() + " has compute capability " + p.major() + "." + p.minor()
                        + "; Tessera's kernels need 8.0 or later";
                return;
            }
            CUmod_st module = new CUmod_st();
            byte[] image = readFatbin();
            try (BytePointer bytes = new BytePointer(image)) {
                checkDriver(cuModuleLoadData(module, bytes), "cuModuleLoadData(" + FATBIN + ")");
            }
            keepFreedMemory();
            instance = new CudaDevice(p.name().getString(), p.totalGlobalMem(), cc, p.multiProcessorCount(), module);
        } catch (UnsatisfiedLinkError | NoClassDefFoundError | ExceptionInInitializerError e) {
            unavailable = "no CUDA 13 runtime libraries on the library path (libcudart.so.13, cuBLAS, cuDNN 9): " + e.getMessage();
        } catch (RuntimeException e) {
            unavailable = e.getMessage();
        }
    }

    private static byte[] readFatbin() {
        try (InputStream in = CudaDevice.class.getResourceAsStream(FATBIN)) {
            if (in == null) throw new IllegalStateException("kernels missing from the jar: " + FATBIN);
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read " + FATBIN + ": " + e.getMessage(), e);
        }
    }

    /** The stream-ordered pool (what an arena cannot hold yet) releases nothing back to the driver, so its memory is reused. */
    private static void keepFreedMemory() {
        try (LongPointer threshold = new LongPointer(1).put(Long.MAX_VALUE)) {
            check(cudaMemPoolSetAttribute(pool(), cudaMemPoolAttrReleaseThreshold, threshold), "cudaMemPoolSetAttribute");
        }
    }

    private static CUmemPoolHandle_st pool() {
        CUmemPoolHandle_st pool = new CUmemPoolHandle_st();
        check(cudaDeviceGetDefaultMemPool(pool, 0), "cudaDeviceGetDefaultMemPool");
        return pool;
    }

    /**
     * Peak device memory since the last {@link #resetPeakMemory}: buffers (weights, caches, working
     * maps, workspaces) plus the stream-ordered pool's transients, each at its own peak, so an
     * upper bound of the true peak. Excludes the CUDA context and libraries' own allocations.
     */
    static long peakMemoryBytes() {
        try (LongPointer used = new LongPointer(1)) {
            check(cudaMemPoolGetAttribute(pool(), cudaMemPoolAttrUsedMemHigh, used), "cudaMemPoolGetAttribute");
            return DeviceBuffer.peakBytes() + used.get();
        }
    }

    static void resetPeakMemory() {
        try (LongPointer zero = new LongPointer(1).put(0L)) {
            check(cudaMemPoolSetAttribute(pool(), cudaMemPoolAttrUsedMemHigh, zero), "cudaMemPoolSetAttribute");
        }
        DeviceBuffer.resetPeak();
    }

    /** A kernel of tessera_kernels.cu by its full name (e.g. "gather_f32"). */
    synchronized CUfunc_st function(String name) {
        return functions.computeIfAbsent(name, n -> {
            CUfunc_st f = new CUfunc_st();
            checkDriver(cuModuleGetFunction(f, module, n), "cuModuleGetFunction(" + n + ")");
            return f;
        });
    }

    /** Makes device 0's primary context current on the calling thread (cheap when it already is). */
    static void bindThread() {
        check(cudaSetDevice(0), "cudaSetDevice");
    }

    static void check(int err, String call) {
        if (err != cudaSuccess) {
            String what = err == cudaErrorMemoryAllocation ? "out of device memory" : cudaGetErrorString(err).getString();
            throw new DeviceException(call + " failed: " + what + " (CUDA error " + err + ")");
        }
    }

    static void checkDriver(int err, String call) {
        if (err != CUDA_SUCCESS) {
            String what = "";
            try (org.bytedeco.javacpp.PointerPointer<BytePointer> text = new org.bytedeco.javacpp.PointerPointer<>(1)) {
                if (cuGetErrorString(err, text) == CUDA_SUCCESS && text.get(0) != null) what = ": " + new BytePointer(text.get(0)).getString();
            }
            throw new DeviceException(call + " failed" + what + " (CUDA driver error " + err + ")");
        }
    }

    static void checkBlas(int status, String call) {
        if (status != org.bytedeco.cuda.global.cublas.CUBLAS_STATUS_SUCCESS) {
            throw new DeviceException(call + " failed: cuBLAS status " + status);
        }
    }

    /** A JavaCPP pointer to a raw device address (for the library calls that take one). */
    static Pointer at(long address) {
        return new Address(address);
    }

    private static final class Address extends Pointer {
        Address(long address) {
            this.address = address;
        }
    }
}
