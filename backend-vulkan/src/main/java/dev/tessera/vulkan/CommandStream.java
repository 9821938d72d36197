package dev.tessera.vulkan;

import java.nio.Buffer;
import org.jspecify.annotations.Nullable;

/**
 * One pass of GPU work at a time, recorded as it is described and then submitted at once: kernel
 * dispatches, copies, uploads and downloads run in the order given, each after the previous one
 * has finished. A stream may replay the recording of an earlier pass that did exactly the same
 * (same kernels, buffers and parameters), so passes that repeat cost one submission. Not
 * thread-safe: one stream per executor.
 */
public interface CommandStream extends AutoCloseable {
    /** Device memory for the current pass, freed when the pass is submitted or discarded, or by {@link #release}. */
    long scratch(long bytes);

    /** Frees scratch memory early so later work of the same pass can reuse it. */
    void release(long address);

    /**
     * Runs {@code kernel} (its float16 variant when {@code half}, in block shape {@code shape} when it
     * is a GEMM, else null) over {@code groupsX x groupsY} workgroups, with buffers at the first
     * {@code bufferCount} addresses (0: absent) and the 32-bit words of its remaining push constants.
     */
    void dispatch(Kernel kernel, boolean half, Kernel.@Nullable GemmShape shape, int groupsX, int groupsY, long[] buffers,
            int bufferCount, int[] params, int paramCount);

    void copy(long src, long dst, long bytes);

    /**
     * Copies the elements of a direct host buffer, position to limit, to {@code dst} when the pass
     * runs; the host buffer may change once this returns.
     */
    void upload(Buffer host, long dst);

    /** Copies device memory at {@code src} into a direct host buffer (position to limit) when the pass runs. */
    void download(long src, Buffer host);

    /**
     * Notes the device's clock once everything described so far has run (for profiles: a pass with
     * marks records separately from the same pass without).
     */
    void mark();

    /** When the device reached each mark of the last submitted pass, in nanoseconds from its start. */
    long[] marks();

    /** Runs the pass described since the last submit or discard, and waits for it. */
    void submit();

    /** Forgets the pass described so far without running it, and frees its scratch memory. */
    void discard();

    @Override
    void close();
}
