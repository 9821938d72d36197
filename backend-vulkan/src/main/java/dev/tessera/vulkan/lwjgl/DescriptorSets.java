package dev.tessera.vulkan.lwjgl;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.vulkan.VK10.*;

import dev.tessera.DeviceException;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.vulkan.VkDescriptorBufferInfo;
import org.lwjgl.vulkan.VkDescriptorPoolCreateInfo;
import org.lwjgl.vulkan.VkDescriptorPoolSize;
import org.lwjgl.vulkan.VkDescriptorSetAllocateInfo;
import org.lwjgl.vulkan.VkDevice;
import org.lwjgl.vulkan.VkWriteDescriptorSet;

/**
 * Descriptor sets by the blocks they bind: kernels bind whole blocks (the buffer's offset in its
 * block is a push constant), so a handful of sets serve every dispatch and are written once.
 * Sets that name a block are freed when the block is. Thread-safe.
 */
final class DescriptorSets implements AutoCloseable {
    private static final int SETS_PER_POOL = 256;
    private static final int BUFFERS_PER_SET = 10;

    private final VkDevice device;
    private final Pipelines pipelines;
    private final Map<List<Integer>, Long> sets = new HashMap<>();
    private final Map<Long, Long> poolOf = new HashMap<>();
    private final List<Long> pools = new ArrayList<>();

    DescriptorSets(VkDevice device, Pipelines pipelines) {
        this.device = device;
        this.pipelines = pipelines;
    }

    /** The set binding the blocks {@code blockIds} at bindings 0, 1, ... (each whole). */
    synchronized long get(List<Integer> blockIds, IntFunction<Block> blocks) {
        Long set = sets.get(blockIds);
        if (set != null) return set;
        long s = allocate(pipelines.setLayout(blockIds.size()));
        try (MemoryStack stack = stackPush()) {
            VkWriteDescriptorSet.Buffer writes = VkWriteDescriptorSet.calloc(blockIds.size(), stack);
            for (int i = 0; i < blockIds.size(); i++) {
                Block b = blocks.apply(blockIds.get(i));
                VkDescriptorBufferInfo.Buffer info = VkDescriptorBufferInfo.calloc(1, stack).buffer(b.buffer()).offset(0).range(b.bytes());
                writes.get(i).sType$Default().dstSet(s).dstBinding(i).descriptorType(VK_DESCRIPTOR_TYPE_STORAGE_BUFFER)
                        .descriptorCount(1).pBufferInfo(info);
            }
            vkUpdateDescriptorSets(device, writes, null);
        }
        sets.put(List.copyOf(blockIds), s);
        return s;
    }

    private long allocate(long layout) {
        try (MemoryStack stack = stackPush()) {
            for (long pool : pools) {
                long set = allocate(pool, layout, stack);
                if (set != 0) return set;
            }
            long set = allocate(newPool(stack), layout, stack);
            if (set == 0) throw new DeviceException("vkAllocateDescriptorSets failed on a new descriptor pool");
            return set;
        }
    }

    /** A set from {@code pool}, or 0 when the pool is full. */
    private long allocate(long pool, long layout, MemoryStack stack) {
        LongBuffer handle = stack.mallocLong(1);
        VkDescriptorSetAllocateInfo info = VkDescriptorSetAllocateInfo.calloc(stack).sType$Default().descriptorPool(pool)
                .pSetLayouts(stack.longs(layout));
        if (vkAllocateDescriptorSets(device, info, handle) != VK_SUCCESS) return 0;
        poolOf.put(handle.get(0), pool);
        return handle.get(0);
    }

    private long newPool(MemoryStack stack) {
        VkDescriptorPoolSize.Buffer size = VkDescriptorPoolSize.calloc(1, stack).type(VK_DESCRIPTOR_TYPE_STORAGE_BUFFER)
                .descriptorCount(SETS_PER_POOL * BUFFERS_PER_SET);
        LongBuffer handle = stack.mallocLong(1);
        Vk.check(vkCreateDescriptorPool(device, VkDescriptorPoolCreateInfo.calloc(stack).sType$Default()
                .flags(VK_DESCRIPTOR_POOL_CREATE_FREE_DESCRIPTOR_SET_BIT).maxSets(SETS_PER_POOL).pPoolSizes(size), null, handle),
                "vkCreateDescriptorPool");
        pools.add(handle.get(0));
        return handle.get(0);
    }

    /** Frees the sets that bind block {@code id} (it is being destroyed). */
    synchronized void forget(int id) {
        for (Iterator<Map.Entry<List<Integer>, Long>> it = sets.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<List<Integer>, Long> e = it.next();
            if (!e.getKey().contains(id)) continue;
            long set = e.getValue();
            Vk.check(vkFreeDescriptorSets(device, poolOf.remove(set), set), "vkFreeDescriptorSets");
            it.remove();
        }
    }

    @Override
    public synchronized void close() {
        for (long pool : pools) vkDestroyDescriptorPool(device, pool, null);
        pools.clear();
        sets.clear();
        poolOf.clear();
    }
}
