package dev.tessera.vulkan.lwjgl;

/**
 * One device memory allocation bound to one buffer that spans it: the unit that memory pools
 * sub-allocate and that kernels bind (whole, with the buffer's byte offset as a push constant).
 * A device address is the block's id in the top bits and the byte offset in the block below them.
 *
 * @param mapped host address of the memory when it is host-visible (staging), else 0
 */
record Block(int id, long buffer, long memory, long bytes, long mapped) {
    private static final int OFFSET_BITS = 40;
    private static final long OFFSET_MASK = (1L << OFFSET_BITS) - 1;

    long address(long offset) {
        return ((long) id << OFFSET_BITS) | offset;
    }

    static int id(long address) {
        return (int) (address >>> OFFSET_BITS);
    }

    static long offset(long address) {
        return address & OFFSET_MASK;
    }
}
