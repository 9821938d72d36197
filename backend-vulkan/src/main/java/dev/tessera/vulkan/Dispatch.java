package dev.tessera.vulkan;

import org.jspecify.annotations.Nullable;

/**
 * Describes kernel launches on a stream: the buffers in binding order, then the push constants in
 * the order the shader declares them, then the launch, e.g.
 * {@code dispatch.call(Kernel.SCATTER).buffer(tiles).buffer(map).buffer(origins).u(count)...launch(total)}.
 * Reuses its arrays, so describing a launch allocates nothing. Not thread-safe (one per executor).
 */
final class Dispatch {
    /** Most workgroups a launch asks for in x (the least every Vulkan device supports); kernels loop over the rest. */
    private static final int MAX_GROUPS = 65535;

    private final CommandStream stream;
    private final boolean half;
    private final long[] buffers = new long[16];
    private final int[] params = new int[32];
    private Kernel kernel = Kernel.ADD;
    private int bufferCount, paramCount;

    /** @param half whether maps are stored as float16 (the kernels' float16 variants) */
    Dispatch(CommandStream stream, boolean half) {
        this.stream = stream;
        this.half = half;
    }

    /** Starts describing a launch of {@code k}. */
    Dispatch call(Kernel k) {
        kernel = k;
        bufferCount = 0;
        paramCount = 0;
        return this;
    }

    /**
     * Describes a launch of {@code k} with the buffers and push constants of the launch just
     * described: for kernels that share a parameter layout (conv2d and sum_slices share conv.glsl's).
     */
    Dispatch again(Kernel k) {
        kernel = k;
        return this;
    }

    /** The next buffer binding: a device address, or 0 for a buffer the kernel may do without. */
    Dispatch buffer(long address) {
        buffers[bufferCount++] = address;
        return this;
    }

    /** An unsigned 32-bit push constant (the shaders index with uint). */
    Dispatch u(long v) {
        if (v < 0 || v > 0xFFFF_FFFFL) throw new IllegalArgumentException(kernel + ": " + v + " does not fit the kernels' 32-bit indices");
        params[paramCount++] = (int) v;
        return this;
    }

    Dispatch i(int v) {
        params[paramCount++] = v;
        return this;
    }

    Dispatch f(float v) {
        params[paramCount++] = Float.floatToRawIntBits(v);
        return this;
    }

    /** An elementwise kernel over {@code total} elements (grid-stride loops). */
    void launch(long total) {
        if (total > 0) submit(null, (int) Math.min(MAX_GROUPS, (total + Kernel.WORKGROUP_SIZE - 1) / Kernel.WORKGROUP_SIZE), 1);
    }

    /**
     * A GEMM kernel computing {@code rows x columns} outputs in blocks of {@code shape}, its K split
     * into {@code slices}: one workgroup per block of rows and slice, and up to {@link #MAX_GROUPS}
     * over the columns (the kernels loop over the rest).
     */
    void launchBlocks(Kernel.GemmShape shape, long rows, long columns, int slices) {
        if (rows == 0 || columns == 0) return;
        long groupsX = Math.min(MAX_GROUPS, (columns + shape.blockColumns() - 1) / shape.blockColumns());
        submit(shape, (int) groupsX, blocks((rows + shape.blockRows() - 1) / shape.blockRows() * slices));
    }

    /** {@code groupsX x groupsY} workgroups (kernels with one workgroup per row, group, ...). */
    void launchGroups(int groupsX, int groupsY) {
        submit(null, blocks(groupsX), blocks(groupsY));
    }

    private void submit(Kernel.@Nullable GemmShape shape, int groupsX, int groupsY) {
        if (bufferCount != kernel.buffers) {
            throw new IllegalStateException(kernel + " binds " + kernel.buffers + " buffers, got " + bufferCount);
        }
        if (groupsX > 0) stream.dispatch(kernel, half && kernel.hasVariants(), shape, groupsX, groupsY, buffers, bufferCount, params, paramCount);
    }

    /** A workgroup count within what every device supports in one dimension. */
    private int blocks(long groups) {
        if (groups > MAX_GROUPS) throw new IllegalArgumentException(kernel + ": " + groups + " workgroups in one dimension");
        return (int) groups;
    }
}
