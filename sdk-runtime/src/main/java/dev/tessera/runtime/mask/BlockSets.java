package dev.tessera.runtime.mask;

import java.util.HashMap;
import java.util.Map;

/**
 * The active blocks of one edit, computed once per {@link BlockKey} and shared by every layer with
 * that key (many convs at one resolution use the same block size, stride and padding). Safe to use
 * from several threads.
 */
public final class BlockSets {
    private final MaskPyramid masks;
    private final Map<BlockKey, ActiveBlocks> computed = new HashMap<>();

    public BlockSets(MaskPyramid masks) {
        this.masks = masks;
    }

    public MaskPyramid masks() {
        return masks;
    }

    /**
     * The blocks for {@code key}, from the mask at the key's resolution; equal keys return the same
     * instance. Throws {@link IllegalArgumentException} if the edit has no mask at that resolution.
     */
    public synchronized ActiveBlocks get(BlockKey key) {
        ActiveBlocks b = computed.get(key);
        if (b == null) {
            b = ActiveBlocks.of(masks.at(key.resHeight(), key.resWidth()), key);
            computed.put(key, b);
        }
        return b;
    }

    /** Number of distinct keys computed so far. */
    public synchronized int size() {
        return computed.size();
    }
}
