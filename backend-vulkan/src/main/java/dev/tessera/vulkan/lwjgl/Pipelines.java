package dev.tessera.vulkan.lwjgl;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.vulkan.VK10.*;

import dev.tessera.DeviceException;
import dev.tessera.vulkan.Kernel;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.LongBuffer;
import java.util.HashMap;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.system.MemoryUtil;
import org.lwjgl.vulkan.VkComputePipelineCreateInfo;
import org.lwjgl.vulkan.VkDescriptorSetLayoutBinding;
import org.lwjgl.vulkan.VkDescriptorSetLayoutCreateInfo;
import org.lwjgl.vulkan.VkDevice;
import org.lwjgl.vulkan.VkPipelineCacheCreateInfo;
import org.lwjgl.vulkan.VkPipelineLayoutCreateInfo;
import org.lwjgl.vulkan.VkPushConstantRange;
import org.lwjgl.vulkan.VkShaderModuleCreateInfo;
import org.lwjgl.vulkan.VkSpecializationInfo;
import org.lwjgl.vulkan.VkSpecializationMapEntry;

/**
 * The compute pipelines of the kernels, created on first use from their SPIR-V resources through
 * one pipeline cache, and their layouts: one descriptor set of n storage buffers (one layout per
 * n) and 128 bytes of push constants (the least every device offers). Thread-safe.
 */
final class Pipelines implements AutoCloseable {
    static final int PUSH_CONSTANT_BYTES = 128;
    private static final int MAX_BUFFERS = 10;

    private final VkDevice device;
    private final long cache;
    private final long[] setLayouts = new long[MAX_BUFFERS + 1];
    private final long[] layouts = new long[MAX_BUFFERS + 1];
    private final Map<String, Long> pipelines = new HashMap<>();

    Pipelines(VkDevice device) {
        this.device = device;
        try (MemoryStack stack = stackPush()) {
            LongBuffer handle = stack.mallocLong(1);
            Vk.check(vkCreatePipelineCache(device, VkPipelineCacheCreateInfo.calloc(stack).sType$Default(), null, handle),
                    "vkCreatePipelineCache");
            cache = handle.get(0);
        }
    }

    /** The layout of a descriptor set of {@code buffers} storage buffers at bindings 0 .. buffers - 1. */
    synchronized long setLayout(int buffers) {
        if (setLayouts[buffers] == 0) createLayouts(buffers);
        return setLayouts[buffers];
    }

    /** The pipeline layout of kernels that bind {@code buffers} storage buffers. */
    synchronized long layout(int buffers) {
        if (layouts[buffers] == 0) createLayouts(buffers);
        return layouts[buffers];
    }

    private void createLayouts(int buffers) {
        try (MemoryStack stack = stackPush()) {
            VkDescriptorSetLayoutBinding.Buffer bindings = VkDescriptorSetLayoutBinding.calloc(buffers, stack);
            for (int i = 0; i < buffers; i++) {
                bindings.get(i).binding(i).descriptorType(VK_DESCRIPTOR_TYPE_STORAGE_BUFFER).descriptorCount(1)
                        .stageFlags(VK_SHADER_STAGE_COMPUTE_BIT);
            }
            LongBuffer handle = stack.mallocLong(1);
            Vk.check(vkCreateDescriptorSetLayout(device, VkDescriptorSetLayoutCreateInfo.calloc(stack).sType$Default().pBindings(bindings),
                    null, handle), "vkCreateDescriptorSetLayout");
            setLayouts[buffers] = handle.get(0);
            VkPushConstantRange.Buffer push = VkPushConstantRange.calloc(1, stack).stageFlags(VK_SHADER_STAGE_COMPUTE_BIT)
                    .offset(0).size(PUSH_CONSTANT_BYTES);
            Vk.check(vkCreatePipelineLayout(device, VkPipelineLayoutCreateInfo.calloc(stack).sType$Default()
                    .pSetLayouts(stack.longs(setLayouts[buffers])).pPushConstantRanges(push), null, handle), "vkCreatePipelineLayout");
            layouts[buffers] = handle.get(0);
        }
    }

    /** The pipeline of {@code kernel}, its float16 variant when {@code half}, in block shape {@code shape} (GEMMs). */
    synchronized long pipeline(Kernel kernel, boolean half, Kernel.@Nullable GemmShape shape) {
        String resource = kernel.spirvResource(half);
        String key = shape == null ? resource : resource + " " + shape;
        Long p = pipelines.get(key);
        if (p == null) {
            p = create(resource, layout(kernel.buffers), shape == null ? new int[0] : shape.specialization());
            pipelines.put(key, p);
        }
        return p;
    }

    /** A pipeline of the SPIR-V resource with specialization constants 0, 1, ... set to {@code constants}. */
    private long create(String resource, long layout, int[] constants) {
        ByteBuffer spirv = readResource(resource);
        try (MemoryStack stack = stackPush()) {
            LongBuffer handle = stack.mallocLong(1);
            Vk.check(vkCreateShaderModule(device, VkShaderModuleCreateInfo.calloc(stack).sType$Default().pCode(spirv), null, handle),
                    "vkCreateShaderModule(" + resource + ")");
            long module = handle.get(0);
            try {
                VkComputePipelineCreateInfo.Buffer info = VkComputePipelineCreateInfo.calloc(1, stack).sType$Default().layout(layout);
                info.stage().sType$Default().stage(VK_SHADER_STAGE_COMPUTE_BIT).module(module).pName(stack.UTF8("main"));
                if (constants.length > 0) {
                    VkSpecializationMapEntry.Buffer entries = VkSpecializationMapEntry.calloc(constants.length, stack);
                    for (int i = 0; i < constants.length; i++) entries.get(i).constantID(i).offset(4 * i).size(4);
                    ByteBuffer data = stack.malloc(4 * constants.length);
                    data.asIntBuffer().put(constants);
                    info.stage().pSpecializationInfo(VkSpecializationInfo.calloc(stack).pMapEntries(entries).pData(data));
                }
                Vk.check(vkCreateComputePipelines(device, cache, info, null, handle), "vkCreateComputePipelines(" + resource + ")");
                return handle.get(0);
            } finally {
                vkDestroyShaderModule(device, module, null);
            }
        } finally {
            MemoryUtil.memFree(spirv);
        }
    }

    /** The resource's bytes in native memory (freed by the caller). */
    private static ByteBuffer readResource(String resource) {
        byte[] bytes;
        try (InputStream in = Pipelines.class.getResourceAsStream(resource)) {
            if (in == null) throw new DeviceException("kernel missing from the jar: " + resource);
            bytes = in.readAllBytes();
        } catch (IOException e) {
            throw new DeviceException("cannot read " + resource + ": " + e.getMessage());
        }
        return MemoryUtil.memAlloc(bytes.length).put(bytes).flip();
    }

    @Override
    public synchronized void close() {
        for (long p : pipelines.values()) vkDestroyPipeline(device, p, null);
        pipelines.clear();
        for (int i = 0; i <= MAX_BUFFERS; i++) {
            if (layouts[i] != 0) vkDestroyPipelineLayout(device, layouts[i], null);
            if (setLayouts[i] != 0) vkDestroyDescriptorSetLayout(device, setLayouts[i], null);
        }
        vkDestroyPipelineCache(device, cache, null);
    }
}
