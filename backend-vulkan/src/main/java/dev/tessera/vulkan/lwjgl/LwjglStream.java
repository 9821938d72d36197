package dev.tessera.vulkan.lwjgl;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.vulkan.VK10.*;

import dev.tessera.runtime.tensor.Ranges;
import dev.tessera.vulkan.CommandStream;
import dev.tessera.vulkan.Kernel;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.system.MemoryUtil;
import org.lwjgl.vulkan.VkBufferCopy;
import org.lwjgl.vulkan.VkCommandBuffer;
import org.lwjgl.vulkan.VkCommandBufferAllocateInfo;
import org.lwjgl.vulkan.VkCommandBufferBeginInfo;
import org.lwjgl.vulkan.VkCommandPoolCreateInfo;
import org.lwjgl.vulkan.VkFenceCreateInfo;
import org.lwjgl.vulkan.VkMemoryBarrier;
import org.lwjgl.vulkan.VkQueryPoolCreateInfo;

/**
 * A {@link CommandStream} on LWJGL. A pass is described into a flat array of words (commands,
 * block ids, offsets, push constants); submitting looks the array up among the passes recorded
 * before and replays that command buffer when one matches word for word, else records a new one.
 * Every command runs after the earlier ones it depends on (it reads what they wrote, or writes what
 * they read or wrote, in whole allocations), with a global memory barrier between levels of
 * commands that do not depend on each other ({@link DependencyLevels}), so results are those of
 * running the commands in the order given. Scratch memory and staging buffers come from pools of
 * the stream's own, so a pass that repeats gets the same addresses, and another session's passes
 * never touch them.
 */
final class LwjglStream implements CommandStream {
    private static final int DISPATCH = 1, COPY = 2, MARK = 3;
    /** Recordings kept for replay; the least recently used one goes first. */
    private static final int RECORDINGS = 8;
    private static final long SCRATCH_BLOCK_BYTES = 256L << 20, STAGING_BLOCK_BYTES = 64L << 20;
    private static final long ABSENT = 0xFFFF_FFFFL;
    private static final int SHADER_AND_TRANSFER = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    /**
     * Scratch released during a pass is free again only once this many bytes of later releases have
     * followed it (larger buffers at once): a buffer handed out again at once makes its next user
     * wait for every command that used it before (a write after a read), which chained GauGAN's
     * independent SPADE convs into one sequence. Golden cases on lavapipe, levels of a pass with
     * immediate reuse and without: GauGAN dense 139 and 70 of 151 commands, sparse 134 and 83 of
     * 186; DDPM sparse 177 and 161 of 204. -Dtessera.vulkan.parkedScratchMiB=0 reuses at once.
     */
    private static final long PARKED_BYTES = Long.getLong("tessera.vulkan.parkedScratchMiB", 64) << 20;
    /** Whether commands that do not depend on each other run together (off: each waits for the previous one, for comparisons). */
    private static final boolean OVERLAP = !"false".equals(System.getProperty("tessera.vulkan.overlap"));

    private final LwjglDevice device;
    private final MemoryPool scratch, staging;
    private final long commandPool, fence;
    private final Map<Pass, VkCommandBuffer> recordings = new LinkedHashMap<>(16, 0.75f, true);
    private int recordingCount;
    private boolean closed;
    /** Timestamps of marks: query 0 at the start of a pass, then one per mark (0 until a pass has marks). */
    private long queryPool;
    private int queryCapacity;
    private long[] lastMarks = new long[0];
    private int lastBarriers;

    // The pass being described.
    private long[] words = new long[4096];
    private int length, marks;
    private final Set<Long> scratchInUse = new HashSet<>();
    private record Parked(long address, long bytes) {}
    private final ArrayDeque<Parked> parked = new ArrayDeque<>(); // released scratch not yet free again, oldest first
    private long parkedBytes;
    private final List<Long> stagingInUse = new ArrayList<>();
    private final List<Download> downloads = new ArrayList<>();
    private final long[] range = new long[2];

    private record Download(long staging, long host, long bytes) {}

    /** A pass's words: the key of its recording. Lookups wrap the live array; stored keys own a copy. */
    private static final class Pass {
        final long[] words;
        final int length, hash;

        Pass(long[] words, int length) {
            this.words = words;
            this.length = length;
            int h = 1;
            for (int i = 0; i < length; i++) h = 31 * h + Long.hashCode(words[i]);
            this.hash = h;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Pass p && p.length == length && Arrays.equals(p.words, 0, length, words, 0, length);
        }

        @Override
        public int hashCode() {
            return hash;
        }
    }

    LwjglStream(LwjglDevice device) {
        this.device = device;
        scratch = device.newPool(LwjglDevice.MemoryKind.DEVICE, SCRATCH_BLOCK_BYTES, "scratch memory");
        staging = device.newPool(LwjglDevice.MemoryKind.STAGING, STAGING_BLOCK_BYTES, "staging memory");
        try (MemoryStack stack = stackPush()) {
            LongBuffer handle = stack.mallocLong(1);
            Vk.check(vkCreateCommandPool(device.vk, VkCommandPoolCreateInfo.calloc(stack).sType$Default().queueFamilyIndex(device.queueFamily),
                    null, handle), "vkCreateCommandPool");
            commandPool = handle.get(0);
            Vk.check(vkCreateFence(device.vk, VkFenceCreateInfo.calloc(stack).sType$Default(), null, handle), "vkCreateFence");
            fence = handle.get(0);
        }
    }

    @Override
    public long scratch(long bytes) {
        device.acquire();
        try {
            long address = scratch.allocate(bytes);
            scratchInUse.add(address);
            return address;
        } finally {
            device.release();
        }
    }

    /** Parks released scratch ({@link #PARKED_BYTES}) or frees it. */
    @Override
    public void release(long address) {
        if (!scratchInUse.remove(address) || closed) return;
        scratch.allocationOf(address, range);
        long bytes = range[1] - range[0];
        if (bytes > PARKED_BYTES) {
            scratch.free(address);
            return;
        }
        parked.addLast(new Parked(address, bytes));
        parkedBytes += bytes;
        while (parkedBytes > PARKED_BYTES) {
            Parked oldest = parked.removeFirst();
            parkedBytes -= oldest.bytes();
            scratch.free(oldest.address());
        }
    }

    /**
     * Words of a dispatch: DISPATCH, kernel and variant, shape, groups x and y, the buffer count,
     * their block ids, the push-constant count, the push constants (the buffers' offsets, then
     * params), and each buffer's allocation as start and end (0 and 0 when absent).
     */
    @Override
    public void dispatch(Kernel kernel, boolean half, Kernel.@Nullable GemmShape shape, int groupsX, int groupsY, long[] buffers,
            int bufferCount, int[] params, int paramCount) {
        reserve(7 + 4 * bufferCount + paramCount);
        words[length++] = DISPATCH;
        words[length++] = kernel.ordinal() * 2L + (half ? 1 : 0);
        words[length++] = shape == null ? -1 : shape.ordinal();
        words[length++] = groupsX;
        words[length++] = groupsY;
        words[length++] = bufferCount;
        for (int i = 0; i < bufferCount; i++) words[length++] = buffers[i] == 0 ? device.nullBlock : Block.id(buffers[i]);
        words[length++] = bufferCount + paramCount;
        for (int i = 0; i < bufferCount; i++) words[length++] = buffers[i] == 0 ? ABSENT : Block.offset(buffers[i]);
        for (int i = 0; i < paramCount; i++) words[length++] = params[i];
        for (int i = 0; i < bufferCount; i++) {
            if (buffers[i] == 0) {
                range[0] = range[1] = 0;
            } else if (!scratch.allocationOf(buffers[i], range) && !device.allocationOf(buffers[i], range)) {
                throw new IllegalStateException(kernel + " binds address " + Long.toHexString(buffers[i])
                        + ", which is not allocated (a buffer used after it was freed?)");
            }
            words[length++] = range[0];
            words[length++] = range[1];
        }
    }

    @Override
    public void copy(long src, long dst, long bytes) {
        if (bytes == 0) return; // Vulkan has no empty copies
        reserve(4);
        words[length++] = COPY;
        words[length++] = src;
        words[length++] = dst;
        words[length++] = bytes;
    }

    @Override
    public void mark() {
        if (device.timestamps().nanosPerTick() == 0) return; // the queue keeps no time
        reserve(1);
        words[length++] = MARK;
        marks++;
    }

    @Override
    public long[] marks() {
        return lastMarks;
    }

    @Override
    public void upload(Buffer host, long dst) {
        long bytes = bytes(host);
        long s = stagingBuffer(bytes);
        hostCopy(MemoryUtil.memAddress(host), device.hostAddress(s), bytes);
        copy(s, dst, bytes);
    }

    @Override
    public void download(long src, Buffer host) {
        long bytes = bytes(host);
        long s = stagingBuffer(bytes);
        copy(src, s, bytes);
        downloads.add(new Download(s, MemoryUtil.memAddress(host), bytes));
    }

    /** Host memory to host memory (staging memory is mapped), on several cores for large copies. */
    private static void hostCopy(long src, long dst, long bytes) {
        Ranges.of(bytes, PARALLEL_BYTES, 1).forEach((a, b) -> MemoryUtil.memCopy(src + a, dst + a, b - a));
    }

    /** Bytes a core copies at least. */
    private static final long PARALLEL_BYTES = 1 << 20;

    /** Bytes from position to limit of a direct buffer. */
    private static long bytes(Buffer b) {
        int elementBytes = b instanceof ByteBuffer ? 1 : b instanceof FloatBuffer || b instanceof IntBuffer ? 4
                : b instanceof DoubleBuffer || b instanceof LongBuffer ? 8 : 2;
        return (long) b.remaining() * elementBytes;
    }

    private long stagingBuffer(long bytes) {
        device.acquire();
        try {
            long address = staging.allocate(bytes);
            stagingInUse.add(address);
            return address;
        } finally {
            device.release();
        }
    }

    private void reserve(int more) {
        if (length + more > words.length) words = Arrays.copyOf(words, Math.max(2 * words.length, length + more));
    }

    @Override
    public void submit() {
        try {
            device.acquire();
            try {
                device.submit(recording(marks), fence);
                lastMarks = readMarks(marks);
                for (Download d : downloads) hostCopy(device.hostAddress(d.staging()), d.host(), d.bytes());
            } finally {
                device.release();
            }
        } finally {
            discard();
        }
    }

    @Override
    public void discard() {
        length = 0;
        marks = 0;
        downloads.clear();
        if (!closed) {
            for (long a : scratchInUse) scratch.free(a);
            for (Parked p : parked) scratch.free(p.address());
            for (long a : stagingInUse) staging.free(a);
        }
        scratchInUse.clear();
        parked.clear();
        parkedBytes = 0;
        stagingInUse.clear();
    }

    /** Barriers in the last recorded pass: one between each two levels of commands. */
    int lastBarriers() {
        return lastBarriers;
    }

    /** Passes recorded so far (the rest were replays). */
    int recordingCount() {
        return recordingCount;
    }

    /** Makes room for the timestamps of a pass with {@code marks} marks (recordings that name a smaller pool are dropped). */
    private void reserveQueries(int marks) {
        if (marks + 1 <= queryCapacity) return;
        for (VkCommandBuffer cb : recordings.values()) vkFreeCommandBuffers(device.vk, commandPool, cb);
        recordings.clear();
        if (queryPool != 0) vkDestroyQueryPool(device.vk, queryPool, null);
        queryCapacity = Math.max(2 * queryCapacity, marks + 1);
        try (MemoryStack stack = stackPush()) {
            LongBuffer handle = stack.mallocLong(1);
            Vk.check(vkCreateQueryPool(device.vk, VkQueryPoolCreateInfo.calloc(stack).sType$Default().queryType(VK_QUERY_TYPE_TIMESTAMP)
                    .queryCount(queryCapacity), null, handle), "vkCreateQueryPool");
            queryPool = handle.get(0);
        }
    }

    private long[] readMarks(int marks) {
        if (marks == 0) return new long[0];
        long[] ticks = new long[marks + 1];
        Vk.check(vkGetQueryPoolResults(device.vk, queryPool, 0, marks + 1, ticks, 8, VK_QUERY_RESULT_64_BIT | VK_QUERY_RESULT_WAIT_BIT),
                "vkGetQueryPoolResults");
        LwjglDevice.Timestamps clock = device.timestamps();
        long[] nanos = new long[marks];
        for (int i = 0; i < marks; i++) nanos[i] = (long) (((ticks[i + 1] - ticks[0]) & clock.mask()) * (double) clock.nanosPerTick());
        return nanos;
    }

    /** The command buffer of the described pass: a recording of the same words, or a new one. */
    private VkCommandBuffer recording(int marks) {
        if (marks > 0) reserveQueries(marks);
        VkCommandBuffer cb = recordings.get(new Pass(words, length));
        if (cb != null) return cb;
        cb = record(marks);
        recordingCount++;
        if (recordings.size() >= RECORDINGS) {
            Map.Entry<Pass, VkCommandBuffer> eldest = recordings.entrySet().iterator().next();
            vkFreeCommandBuffers(device.vk, commandPool, eldest.getValue());
            recordings.remove(eldest.getKey());
        }
        recordings.put(new Pass(Arrays.copyOf(words, length), length), cb);
        return cb;
    }

    private VkCommandBuffer record(int marks) {
        try (MemoryStack stack = stackPush()) {
            PointerBuffer handle = stack.mallocPointer(1);
            Vk.check(vkAllocateCommandBuffers(device.vk, VkCommandBufferAllocateInfo.calloc(stack).sType$Default().commandPool(commandPool)
                    .level(VK_COMMAND_BUFFER_LEVEL_PRIMARY).commandBufferCount(1), handle), "vkAllocateCommandBuffers");
            VkCommandBuffer cb = new VkCommandBuffer(handle.get(0), device.vk);
            try {
                record(cb, marks, stack);
                return cb;
            } catch (RuntimeException e) {
                vkFreeCommandBuffers(device.vk, commandPool, cb);
                throw e;
            }
        }
    }

    /** Records the described pass, which has {@code marks} marks, into {@code cb}. */
    private void record(VkCommandBuffer cb, int marks, MemoryStack stack) {
        Vk.check(vkBeginCommandBuffer(cb, VkCommandBufferBeginInfo.calloc(stack).sType$Default()), "vkBeginCommandBuffer");
        int query = 0;
        if (marks > 0) {
            vkCmdResetQueryPool(cb, queryPool, 0, marks + 1);
            vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, queryPool, query++);
        }
        VkMemoryBarrier.Buffer afterPrevious = VkMemoryBarrier.calloc(1, stack).sType$Default()
                .srcAccessMask(VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT)
                .dstAccessMask(VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT);
        IntBuffer pushConstants = stack.mallocInt(Pipelines.PUSH_CONSTANT_BYTES / 4);
        LongBuffer set = stack.mallocLong(1);
        VkBufferCopy.Buffer region = VkBufferCopy.calloc(1, stack);
        long[] order = levelOrder();
        int barriers = 0;
        for (int i = 0; i < order.length; i++) {
            int at = (int) order[i], level = (int) (order[i] >>> 32);
            if (words[at] == MARK) { // once every command before it has finished
                vkCmdWriteTimestamp(cb, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, queryPool, query++);
                continue;
            }
            if (i > 0 && level != (int) (order[i - 1] >>> 32)) {
                vkCmdPipelineBarrier(cb, SHADER_AND_TRANSFER, SHADER_AND_TRANSFER, 0, afterPrevious, null, null);
                barriers++;
            }
            if (words[at] == COPY) {
                long src = words[at + 1], dst = words[at + 2];
                region.srcOffset(Block.offset(src)).dstOffset(Block.offset(dst)).size(words[at + 3]);
                vkCmdCopyBuffer(cb, device.block(Block.id(src)).buffer(), device.block(Block.id(dst)).buffer(), region);
                continue;
            }
            Kernel kernel = Kernel.values()[(int) (words[at + 1] >> 1)];
            boolean half = (words[at + 1] & 1) != 0;
            Kernel.GemmShape shape = words[at + 2] < 0 ? null : Kernel.GemmShape.values()[(int) words[at + 2]];
            int groupsX = (int) words[at + 3], groupsY = (int) words[at + 4], buffers = (int) words[at + 5];
            Integer[] blockIds = new Integer[buffers];
            for (int b = 0; b < buffers; b++) blockIds[b] = (int) words[at + 6 + b];
            at += 6 + buffers;
            int pushWords = (int) words[at++];
            pushConstants.clear();
            for (int w = 0; w < pushWords; w++) pushConstants.put((int) words[at++]);
            pushConstants.flip();
            long layout = device.pipelines.layout(buffers);
            vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, device.pipelines.pipeline(kernel, half, shape));
            set.put(0, device.descriptorSets.get(List.of(blockIds), device::block));
            vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, layout, 0, set, null);
            vkCmdPushConstants(cb, layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, pushConstants);
            vkCmdDispatch(cb, groupsX, groupsY, 1);
        }
        lastBarriers = barriers;
        VkMemoryBarrier.Buffer toHost = VkMemoryBarrier.calloc(1, stack).sType$Default()
                .srcAccessMask(VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT).dstAccessMask(VK_ACCESS_HOST_READ_BIT);
        vkCmdPipelineBarrier(cb, SHADER_AND_TRANSFER, VK_PIPELINE_STAGE_HOST_BIT, 0, toHost, null, null);
        Vk.check(vkEndCommandBuffer(cb), "vkEndCommandBuffer");
    }

    /**
     * The described pass's commands in the order they are recorded: each as its level (high 32 bits)
     * and the index of its first word, by level, then as described.
     */
    private long[] levelOrder() {
        DependencyLevels levels = new DependencyLevels();
        long[] reads = new long[2 * 16], writes = new long[2 * 16];
        long[] order = new long[length];
        int count = 0;
        for (int at = 0; at < length; count++) {
            int level;
            if (words[at] == MARK) {
                level = OVERLAP ? levels.fence() : count + 1;
                order[count] = (long) level << 32 | at;
                at++;
                continue;
            }
            int readCount = 0, writeCount = 0, start = at;
            if (words[at] == COPY) {
                long src = words[at + 1], dst = words[at + 2], bytes = words[at + 3];
                reads[readCount++] = src;
                reads[readCount++] = src + bytes;
                writes[writeCount++] = dst;
                writes[writeCount++] = dst + bytes;
                at += 4;
            } else {
                Kernel kernel = Kernel.values()[(int) (words[at + 1] >> 1)];
                int buffers = (int) words[at + 5];
                at += 6 + buffers;
                at += 1 + (int) words[at];
                for (int b = 0; b < buffers; b++, at += 2) {
                    if (words[at] == words[at + 1]) continue; // absent
                    if (kernel.writes(b)) {
                        writes[writeCount++] = words[at];
                        writes[writeCount++] = words[at + 1];
                    } else {
                        reads[readCount++] = words[at];
                        reads[readCount++] = words[at + 1];
                    }
                }
            }
            level = OVERLAP ? levels.place(reads, readCount, writes, writeCount) : count + 1;
            order[count] = (long) level << 32 | start;
        }
        order = Arrays.copyOf(order, count);
        Arrays.sort(order);
        return order;
    }

    @Override
    public void close() {
        device.closeStream(this);
    }

    /** Frees the stream's Vulkan objects and memory; the device calls it with no work in flight. */
    void destroy() {
        if (closed) return;
        discard();
        closed = true;
        recordings.clear();
        vkDestroyCommandPool(device.vk, commandPool, null); // frees the recordings' command buffers
        vkDestroyFence(device.vk, fence, null);
        if (queryPool != 0) vkDestroyQueryPool(device.vk, queryPool, null);
        scratch.close();
        staging.close();
    }
}
