package dev.tessera.cuda;

import static org.bytedeco.cuda.global.cudart.CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION;
import static org.bytedeco.cuda.global.cudart.cuLaunchKernelEx;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.bytedeco.cuda.cudart.CUlaunchAttribute;
import org.bytedeco.cuda.cudart.CUlaunchConfig;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.PointerPointer;

/**
 * Launches tessera_kernels.cu kernels on one stream. Arguments are packed into one reused native
 * buffer and cuLaunchKernelEx gets the address of each, so a launch allocates nothing native. Usage: {@code kernels.call("gather").ptr(src).ptr(dst).i(n)...launch(total)}, arguments
 * in the order of the kernel's parameters. Not thread-safe (one per executor).
 *
 * <p>On compute capability 9.0 and later, kernels are launched with programmatic stream
 * serialization: each may be launched while the previous kernel of the stream finishes, and waits
 * for it at its start (follow_previous in the .cu file), which hides part of the gap between
 * dependent kernels. -Dtessera.cuda.pdl=false launches them plainly, to compare.
 */
final class Kernels implements AutoCloseable {
    private static final int THREADS = 256;
    private static final int MAX_BLOCKS = 16384;
    private static final int MAX_PARAMS = 32;

    private static final boolean PDL = !"false".equals(System.getProperty("tessera.cuda.pdl"));

    private final CudaDevice device;
    private final String suffix;
    private final BytePointer args = new BytePointer(512);
    private final ByteBuffer buf = args.asByteBuffer().order(ByteOrder.nativeOrder());
    private final PointerPointer<?> params = new PointerPointer<>(MAX_PARAMS); // address of each argument in args
    private final LongPointer slots = new LongPointer(params); // the same memory, written as addresses
    private final CUlaunchAttribute attribute = new CUlaunchAttribute();
    private final CUlaunchConfig config = new CUlaunchConfig();
    private int count;
    private String name = "";

    /** @param half whether maps are stored as float16 (the "_f16" kernels) */
    Kernels(CudaDevice device, CUstream_st stream, boolean half) {
        this.device = device;
        this.suffix = half ? "_f16" : "_f32";
        attribute.id(CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION);
        attribute.value().programmaticStreamSerializationAllowed(1);
        config.hStream(stream).blockDimY(1).blockDimZ(1).sharedMemBytes(0).attrs(attribute)
                .numAttrs(PDL && device.computeCapability >= 90 ? 1 : 0);
    }

    /** Starts the arguments of the storage-typed kernel {@code base} (the "_f32"/"_f16" suffix is added). */
    Kernels call(String base) {
        return callExact(base + suffix);
    }

    /** Starts the arguments of a kernel by its exact name. */
    Kernels callExact(String kernel) {
        name = kernel;
        buf.clear();
        count = 0;
        return this;
    }

    Kernels ptr(long address) {
        return l(address);
    }

    Kernels l(long v) {
        align(8);
        buf.putLong(v);
        return this;
    }

    Kernels i(int v) {
        align(4);
        buf.putInt(v);
        return this;
    }

    Kernels f(float v) {
        align(4);
        buf.putFloat(v);
        return this;
    }

    /** Aligns the next argument to its size and records where it starts. */
    private void align(int n) {
        buf.position((buf.position() + n - 1) / n * n);
        slots.put(count++, args.address() + buf.position());
    }

    /** Launches over {@code total} elements with a grid-stride loop. */
    void launch(long total) {
        if (total <= 0) return;
        launch((int) Math.min(MAX_BLOCKS, (total + THREADS - 1) / THREADS), THREADS);
    }

    /** Launches over a [rows, cols] view: a 2D grid, x over columns (grid-stride), y over rows (kernels use ROWS/COLS). */
    void launch2d(long cols, int rows) {
        if (cols <= 0 || rows <= 0) return;
        int x = (int) Math.min(1 << 16, (cols + THREADS - 1) / THREADS);
        launch(x, Math.min(rows, 65535), THREADS);
    }

    /** Launches {@code blocks} blocks of {@code threads} threads. */
    void launch(int blocks, int threads) {
        launch(blocks, 1, threads);
    }

    /** Launches a blocksX x blocksY grid of {@code threads}-thread blocks (kernels that index blocks themselves). */
    void launch(int blocksX, int blocksY, int threads) {
        launch(blocksX, blocksY, 1, threads);
    }

    /** Launches a blocksX x blocksY x blocksZ grid of {@code threads}-thread blocks. */
    void launch(int blocksX, int blocksY, int blocksZ, int threads) {
        if (blocksX == 0) return;
        config.gridDimX(blocksX).gridDimY(blocksY).gridDimZ(blocksZ).blockDimX(threads);
        CudaDevice.checkDriver(cuLaunchKernelEx(config, device.function(name), params, (PointerPointer<?>) null), "launch of " + name);
    }

    @Override
    public void close() {
        config.close();
        attribute.close();
        slots.close();
        params.close();
        args.close();
    }
}
