package dev.tessera.vulkan.lwjgl;

import static org.lwjgl.system.MemoryStack.stackPush;
import static org.lwjgl.vulkan.KHRCooperativeMatrix.*;
import static org.lwjgl.vulkan.KHRPortabilityEnumeration.VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR;
import static org.lwjgl.vulkan.KHRPortabilityEnumeration.VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME;
import static org.lwjgl.vulkan.KHRPortabilitySubset.VK_KHR_PORTABILITY_SUBSET_EXTENSION_NAME;
import static org.lwjgl.vulkan.NVCooperativeMatrix2.VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME;
import static org.lwjgl.vulkan.NVCooperativeMatrix2.vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV;
import static org.lwjgl.vulkan.VK10.*;
import static org.lwjgl.vulkan.VK11.VK_API_VERSION_1_1;
import static org.lwjgl.vulkan.VK11.VK_SUBGROUP_FEATURE_BASIC_BIT;
import static org.lwjgl.vulkan.VK11.vkGetPhysicalDeviceFeatures2;
import static org.lwjgl.vulkan.VK11.vkGetPhysicalDeviceProperties2;
import static org.lwjgl.vulkan.VK12.VK_API_VERSION_1_2;
import static org.lwjgl.vulkan.VK13.VK_API_VERSION_1_3;

import dev.tessera.BackendUnavailableException;
import dev.tessera.DeviceException;
import dev.tessera.spi.DeviceInfo;
import dev.tessera.vulkan.CommandStream;
import dev.tessera.vulkan.ComputeDevice;
import dev.tessera.vulkan.Kernel;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.lwjgl.PointerBuffer;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.vulkan.VK;
import org.lwjgl.vulkan.VkApplicationInfo;
import org.lwjgl.vulkan.VkBufferCreateInfo;
import org.lwjgl.vulkan.VkCooperativeMatrixFlexibleDimensionsPropertiesNV;
import org.lwjgl.vulkan.VkCooperativeMatrixPropertiesKHR;
import org.lwjgl.vulkan.VkDevice;
import org.lwjgl.vulkan.VkDeviceCreateInfo;
import org.lwjgl.vulkan.VkDeviceQueueCreateInfo;
import org.lwjgl.vulkan.VkExtensionProperties;
import org.lwjgl.vulkan.VkInstance;
import org.lwjgl.vulkan.VkInstanceCreateInfo;
import org.lwjgl.vulkan.VkLayerProperties;
import org.lwjgl.vulkan.VkMemoryAllocateInfo;
import org.lwjgl.vulkan.VkMemoryRequirements;
import org.lwjgl.vulkan.VkPhysicalDevice;
import org.lwjgl.vulkan.VkPhysicalDevice16BitStorageFeatures;
import org.lwjgl.vulkan.VkPhysicalDeviceCooperativeMatrix2FeaturesNV;
import org.lwjgl.vulkan.VkPhysicalDeviceCooperativeMatrix2PropertiesNV;
import org.lwjgl.vulkan.VkPhysicalDeviceCooperativeMatrixFeaturesKHR;
import org.lwjgl.vulkan.VkPhysicalDeviceFeatures2;
import org.lwjgl.vulkan.VkPhysicalDeviceLimits;
import org.lwjgl.vulkan.VkPhysicalDeviceMemoryProperties;
import org.lwjgl.vulkan.VkPhysicalDeviceProperties;
import org.lwjgl.vulkan.VkPhysicalDeviceProperties2;
import org.lwjgl.vulkan.VkPhysicalDeviceShaderFloat16Int8Features;
import org.lwjgl.vulkan.VkPhysicalDeviceSubgroupProperties;
import org.lwjgl.vulkan.VkPhysicalDeviceVulkanMemoryModelFeatures;
import org.lwjgl.vulkan.VkQueue;
import org.lwjgl.vulkan.VkQueueFamilyProperties;
import org.lwjgl.vulkan.VkSubmitInfo;

/**
 * The Vulkan device Tessera runs on, through LWJGL: the best physical device (discrete GPUs, then
 * integrated, virtual, and CPU implementations such as lavapipe), one compute queue, one memory
 * pool for what outlives a pass (weights, caches, working maps), the pipeline and descriptor-set
 * caches, and the streams executors submit through. On macOS (MoltenVK) it enables portability
 * enumeration and the portability subset. A shutdown hook closes it before the JVM exits: a
 * Vulkan instance left alive at exit has crashed the JVM on NVIDIA's driver.
 */
public final class LwjglDevice implements ComputeDevice {
    /** Set to true (-Dtessera.vulkan.validation=true) to run under the Khronos validation layer, when installed. */
    private static final String VALIDATION_PROPERTY = "tessera.vulkan.validation";
    private static final long BLOCK_BYTES = 256L << 20;

    /** What memory a pool holds: device-local for kernels, host-visible for staging. */
    enum MemoryKind {
        DEVICE(VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT, 0),
        STAGING(VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT | VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
                VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);

        /** Memory property flags in order of preference. */
        final int[] preferred;

        MemoryKind(int... preferred) {
            this.preferred = preferred;
        }
    }

    /** A physical device that can run the kernels, with what the backend needs to know about it. */
    private record Candidate(VkPhysicalDevice device, String name, int type, DeviceInfo.Kind kind, long memoryBytes,
            int queueFamily, boolean float16, boolean tensorCores, boolean tensorAddressing, boolean portabilitySubset,
            long maxStorageRange, Timestamps timestamps) {}

    /**
     * How to read the compute queue's timestamps: nanoseconds per tick and the valid bits (a
     * period of 0 when the queue has none).
     */
    record Timestamps(float nanosPerTick, long mask) {}

    /**
     * Instances made in this process. Each device has its own, destroyed with it: on the H100 (NVIDIA
     * driver 580, 2026-11-23) the 31st vkCreateInstance of a process failed with
     * VK_ERROR_INCOMPATIBLE_DRIVER even in a bare create/destroy loop, while one instance made 100
     * devices. One instance per process is no way out there: an instance must not reach the JVM's
     * exit on that driver (destroyed by a shutdown hook, it crashed the JVM at exit; left alive, too).
     */
    private static final AtomicInteger INSTANCES_MADE = new AtomicInteger();

    private final VkInstance instance;
    final VkDevice vk;
    private final VkQueue queue;
    final int queueFamily;
    private final Candidate chosen;
    private final int[] memoryTypeFlags;
    final Pipelines pipelines;
    final DescriptorSets descriptorSets;
    private final Map<Integer, Block> blocks = new ConcurrentHashMap<>();
    private final AtomicInteger nextBlockId = new AtomicInteger(1);
    private final MemoryMeter deviceMemory = new MemoryMeter();
    private final MemoryPool memory;
    /** Block of a small buffer bound where a kernel's optional buffer is absent. */
    final int nullBlock;
    private final Set<LwjglStream> streams = new HashSet<>();
    /** Held shared by every Vulkan call, exclusively by {@link #close}. */
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Thread shutdownHook = new Thread(this::close, "tessera-vulkan-shutdown");
    private boolean closed;

    /**
     * Opens the best Vulkan device of this machine.
     *
     * @throws BackendUnavailableException with the reason when there is no Vulkan loader, driver or usable device
     */
    public static LwjglDevice open() {
        int loaderVersion;
        try {
            loaderVersion = VK.getInstanceVersionSupported(); // LWJGL loads the Vulkan loader when VK initializes
        } catch (RuntimeException | LinkageError e) {
            throw new BackendUnavailableException("no Vulkan loader (" + e.getMessage() + "); install the GPU's driver, or Mesa's"
                    + " lavapipe (mesa-vulkan-drivers) for a CPU implementation");
        }
        if (loaderVersion < VK_API_VERSION_1_1) {
            throw new BackendUnavailableException("the Vulkan loader supports only Vulkan 1.0; Tessera needs 1.1");
        }
        int apiVersion = Math.min(loaderVersion, VK_API_VERSION_1_3);
        VkInstance instance = createInstance(apiVersion);
        try {
            LwjglDevice d = new LwjglDevice(instance, choose(instance, apiVersion));
            Runtime.getRuntime().addShutdownHook(d.shutdownHook);
            return d;
        } catch (RuntimeException e) {
            vkDestroyInstance(instance, null);
            throw e;
        }
    }

    /**
     * An instance of the newest Vulkan up to 1.3 the loader has: 1.2 for the feature structures
     * tensor cores need, 1.3 for the SPIR-V 1.6 of gemm_tensor.
     */
    private static VkInstance createInstance(int apiVersion) {
        try (MemoryStack stack = stackPush()) {
            boolean portability = instanceExtensions(stack).contains(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME);
            VkApplicationInfo app = VkApplicationInfo.calloc(stack).sType$Default().pApplicationName(stack.UTF8("Tessera"))
                    .pEngineName(stack.UTF8("Tessera")).apiVersion(apiVersion);
            VkInstanceCreateInfo info = VkInstanceCreateInfo.calloc(stack).sType$Default().pApplicationInfo(app)
                    .flags(portability ? VK_INSTANCE_CREATE_ENUMERATE_PORTABILITY_BIT_KHR : 0)
                    .ppEnabledExtensionNames(portability ? stack.pointers(stack.UTF8(VK_KHR_PORTABILITY_ENUMERATION_EXTENSION_NAME)) : null);
            String validation = "VK_LAYER_KHRONOS_validation";
            if (Boolean.getBoolean(VALIDATION_PROPERTY) && instanceLayers(stack).contains(validation)) {
                info.ppEnabledLayerNames(stack.pointers(stack.UTF8(validation)));
            }
            PointerBuffer handle = stack.mallocPointer(1);
            int result = vkCreateInstance(info, null, handle);
            if (result != VK_SUCCESS) {
                int made = INSTANCES_MADE.get();
                throw new BackendUnavailableException("vkCreateInstance failed: " + Vk.describe(result) + (made == 0 ? ""
                        : " after " + made + " instances made and destroyed in this process (NVIDIA's driver 580 refuses"
                        + " every instance after the 30th in a process: keep a model open to keep the device)"));
            }
            INSTANCES_MADE.incrementAndGet();
            return new VkInstance(handle.get(0), info);
        }
    }

    private static Set<String> instanceExtensions(MemoryStack stack) {
        IntBuffer count = stack.mallocInt(1);
        Vk.check(vkEnumerateInstanceExtensionProperties((String) null, count, null), "vkEnumerateInstanceExtensionProperties");
        VkExtensionProperties.Buffer props = VkExtensionProperties.malloc(count.get(0), stack);
        Vk.check(vkEnumerateInstanceExtensionProperties((String) null, count, props), "vkEnumerateInstanceExtensionProperties");
        Set<String> names = new HashSet<>();
        for (VkExtensionProperties p : props) names.add(p.extensionNameString());
        return names;
    }

    private static Set<String> instanceLayers(MemoryStack stack) {
        IntBuffer count = stack.mallocInt(1);
        Vk.check(vkEnumerateInstanceLayerProperties(count, null), "vkEnumerateInstanceLayerProperties");
        VkLayerProperties.Buffer props = VkLayerProperties.malloc(count.get(0), stack);
        Vk.check(vkEnumerateInstanceLayerProperties(count, props), "vkEnumerateInstanceLayerProperties");
        Set<String> names = new HashSet<>();
        for (VkLayerProperties p : props) names.add(p.layerNameString());
        return names;
    }

    /** The best usable physical device: by type (discrete first), then by memory. */
    private static Candidate choose(VkInstance instance, int apiVersion) {
        List<String> rejected = new ArrayList<>();
        Candidate best = null;
        try (MemoryStack stack = stackPush()) {
            IntBuffer count = stack.mallocInt(1);
            Vk.check(vkEnumeratePhysicalDevices(instance, count, null), "vkEnumeratePhysicalDevices");
            PointerBuffer handles = stack.mallocPointer(count.get(0));
            Vk.check(vkEnumeratePhysicalDevices(instance, count, handles), "vkEnumeratePhysicalDevices");
            for (int i = 0; i < handles.capacity(); i++) {
                VkPhysicalDevice pd = new VkPhysicalDevice(handles.get(i), instance);
                Candidate c = examine(pd, apiVersion, rejected);
                if (c != null && (best == null || typeRank(c.type()) > typeRank(best.type())
                        || typeRank(c.type()) == typeRank(best.type()) && c.memoryBytes() > best.memoryBytes())) {
                    best = c;
                }
            }
        }
        if (best == null) {
            throw new BackendUnavailableException(rejected.isEmpty() ? "no Vulkan device" : "no usable Vulkan device: " + String.join("; ", rejected));
        }
        return best;
    }

    private static int typeRank(int type) {
        switch (type) {
            case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
            case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
            case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
            case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
            default: return 0;
        }
    }

    /** The device as a candidate, or null (with why in {@code rejected}) when it cannot run the kernels. */
    private static Candidate examine(VkPhysicalDevice pd, int apiVersion, List<String> rejected) {
        try (MemoryStack stack = stackPush()) {
            VkPhysicalDeviceProperties props = VkPhysicalDeviceProperties.calloc(stack);
            vkGetPhysicalDeviceProperties(pd, props);
            String name = props.deviceNameString();
            VkPhysicalDeviceLimits limits = props.limits();
            if (props.apiVersion() < VK_API_VERSION_1_1) {
                rejected.add(name + " supports only Vulkan 1.0");
                return null;
            }
            if (limits.maxComputeWorkGroupInvocations() < Kernel.WORKGROUP_SIZE) {
                rejected.add(name + " runs at most " + limits.maxComputeWorkGroupInvocations() + " invocations a workgroup; the kernels use "
                        + Kernel.WORKGROUP_SIZE);
                return null;
            }
            VkQueueFamilyProperties.Buffer families = queueFamilies(pd, stack);
            int shared = 0, coopShared = 0;
            for (Kernel.GemmShape g : Kernel.GemmShape.values()) {
                if (g.kernel() == Kernel.GEMM_TENSOR) continue; // the driver's staging: checked with the extension
                if (g.cooperative()) {
                    coopShared = Math.max(coopShared, g.sharedMemoryBytes());
                } else {
                    shared = Math.max(shared, g.sharedMemoryBytes());
                }
            }
            if (limits.maxComputeSharedMemorySize() < shared) {
                rejected.add(name + " has " + limits.maxComputeSharedMemorySize() + " bytes of shared memory; the kernels use " + shared);
                return null;
            }
            int family = computeQueueFamily(families);
            if (family < 0) {
                rejected.add(name + " has no compute queue");
                return null;
            }
            VkPhysicalDevice16BitStorageFeatures storage16 = VkPhysicalDevice16BitStorageFeatures.calloc(stack).sType$Default();
            vkGetPhysicalDeviceFeatures2(pd, VkPhysicalDeviceFeatures2.calloc(stack).sType$Default().pNext(storage16.address()));
            Set<String> extensions = deviceExtensions(pd, stack);
            boolean portabilitySubset = extensions.contains(VK_KHR_PORTABILITY_SUBSET_EXTENSION_NAME);
            boolean tensorCores = storage16.storageBuffer16BitAccess() && Math.min(apiVersion, props.apiVersion()) >= VK_API_VERSION_1_2
                    && limits.maxComputeSharedMemorySize() >= coopShared && extensions.contains(VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME)
                    && tensorCores(pd, stack);
            boolean tensorAddressing = tensorCores && Math.min(apiVersion, props.apiVersion()) >= VK_API_VERSION_1_3
                    && extensions.contains(VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME) && tensorAddressing(pd, stack);
            int type = props.deviceType();
            int validBits = families.get(family).timestampValidBits();
            Timestamps timestamps = new Timestamps(validBits == 0 ? 0f : limits.timestampPeriod(), validBits == 64 ? -1L : (1L << validBits) - 1);
            return new Candidate(pd, name, type, kindOf(type), deviceLocalBytes(pd, stack), family, storage16.storageBuffer16BitAccess(),
                    tensorCores, tensorAddressing, portabilitySubset, Integer.toUnsignedLong(limits.maxStorageBufferRange()), timestamps);
        }
    }

    /**
     * Whether conv2d_coop runs here: 16x16x16 float16 cooperative matrices with float32 sums in
     * subgroups of 32 invocations, float16 arithmetic and the Vulkan memory model (which the
     * cooperative-matrix shaders declare). Needs a Vulkan 1.2 instance and device.
     */
    private static boolean tensorCores(VkPhysicalDevice pd, MemoryStack stack) {
        VkPhysicalDeviceSubgroupProperties subgroup = VkPhysicalDeviceSubgroupProperties.calloc(stack).sType$Default();
        vkGetPhysicalDeviceProperties2(pd, VkPhysicalDeviceProperties2.calloc(stack).sType$Default().pNext(subgroup.address()));
        if (subgroup.subgroupSize() != 32 || (subgroup.supportedStages() & VK_SHADER_STAGE_COMPUTE_BIT) == 0
                || (subgroup.supportedOperations() & VK_SUBGROUP_FEATURE_BASIC_BIT) == 0) {
            return false;
        }
        VkPhysicalDeviceCooperativeMatrixFeaturesKHR matrices = VkPhysicalDeviceCooperativeMatrixFeaturesKHR.calloc(stack).sType$Default();
        VkPhysicalDeviceShaderFloat16Int8Features float16 = VkPhysicalDeviceShaderFloat16Int8Features.calloc(stack).sType$Default()
                .pNext(matrices.address());
        VkPhysicalDeviceVulkanMemoryModelFeatures memoryModel = VkPhysicalDeviceVulkanMemoryModelFeatures.calloc(stack).sType$Default()
                .pNext(float16.address());
        vkGetPhysicalDeviceFeatures2(pd, VkPhysicalDeviceFeatures2.calloc(stack).sType$Default().pNext(memoryModel.address()));
        if (!matrices.cooperativeMatrix() || !float16.shaderFloat16() || !memoryModel.vulkanMemoryModel()) return false;
        IntBuffer count = stack.mallocInt(1);
        Vk.check(vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR(pd, count, null), "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
        VkCooperativeMatrixPropertiesKHR.Buffer shapes = VkCooperativeMatrixPropertiesKHR.calloc(count.get(0), stack);
        for (VkCooperativeMatrixPropertiesKHR shape : shapes) shape.sType$Default();
        Vk.check(vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR(pd, count, shapes), "vkGetPhysicalDeviceCooperativeMatrixPropertiesKHR");
        for (VkCooperativeMatrixPropertiesKHR m : shapes) {
            if (m.MSize() == 16 && m.NSize() == 16 && m.KSize() == 16 && m.AType() == VK_COMPONENT_TYPE_FLOAT16_KHR
                    && m.BType() == VK_COMPONENT_TYPE_FLOAT16_KHR && m.CType() == VK_COMPONENT_TYPE_FLOAT32_KHR
                    && m.ResultType() == VK_COMPONENT_TYPE_FLOAT32_KHR && m.scope() == VK_SCOPE_SUBGROUP_KHR) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether gemm_tensor runs here: workgroup-scope cooperative matrices of flexible dimensions,
     * loaded and stored through tensor layouts, for each of its block shapes (float16 operands,
     * float32 sums, the shape's invocations and dimensions multiples of the device's granularity).
     */
    private static boolean tensorAddressing(VkPhysicalDevice pd, MemoryStack stack) {
        VkPhysicalDeviceCooperativeMatrix2FeaturesNV features = VkPhysicalDeviceCooperativeMatrix2FeaturesNV.calloc(stack).sType$Default();
        vkGetPhysicalDeviceFeatures2(pd, VkPhysicalDeviceFeatures2.calloc(stack).sType$Default().pNext(features.address()));
        if (!features.cooperativeMatrixWorkgroupScope() || !features.cooperativeMatrixFlexibleDimensions()
                || !features.cooperativeMatrixTensorAddressing()) {
            return false;
        }
        VkPhysicalDeviceCooperativeMatrix2PropertiesNV limits = VkPhysicalDeviceCooperativeMatrix2PropertiesNV.calloc(stack).sType$Default();
        vkGetPhysicalDeviceProperties2(pd, VkPhysicalDeviceProperties2.calloc(stack).sType$Default().pNext(limits.address()));
        IntBuffer count = stack.mallocInt(1);
        Vk.check(vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV(pd, count, null),
                "vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV");
        VkCooperativeMatrixFlexibleDimensionsPropertiesNV.Buffer shapes = VkCooperativeMatrixFlexibleDimensionsPropertiesNV.calloc(count.get(0), stack);
        for (VkCooperativeMatrixFlexibleDimensionsPropertiesNV shape : shapes) shape.sType$Default();
        Vk.check(vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV(pd, count, shapes),
                "vkGetPhysicalDeviceCooperativeMatrixFlexibleDimensionsPropertiesNV");
        for (Kernel.GemmShape g : Kernel.GemmShape.values()) {
            if (g.kernel() != Kernel.GEMM_TENSOR) continue;
            int[] block = g.specialization(); // BM, BN, BK, invocations
            boolean supported = block[3] <= limits.cooperativeMatrixWorkgroupScopeMaxWorkgroupSize();
            boolean listed = false;
            for (VkCooperativeMatrixFlexibleDimensionsPropertiesNV m : shapes) {
                listed |= m.scope() == VK_SCOPE_WORKGROUP_KHR && m.workgroupInvocations() == block[3]
                        && m.AType() == VK_COMPONENT_TYPE_FLOAT16_KHR && m.BType() == VK_COMPONENT_TYPE_FLOAT16_KHR
                        && m.CType() == VK_COMPONENT_TYPE_FLOAT32_KHR && m.ResultType() == VK_COMPONENT_TYPE_FLOAT32_KHR
                        && block[0] % m.MGranularity() == 0 && block[1] % m.NGranularity() == 0 && block[2] % m.KGranularity() == 0;
            }
            if (!supported || !listed) return false;
        }
        return true;
    }

    private static DeviceInfo.Kind kindOf(int type) {
        switch (type) {
            case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return DeviceInfo.Kind.DISCRETE_GPU;
            case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
            case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return DeviceInfo.Kind.INTEGRATED_GPU;
            default: return DeviceInfo.Kind.SOFTWARE_GPU; // CPU implementations (lavapipe, SwiftShader) and unknown types
        }
    }

    private static VkQueueFamilyProperties.Buffer queueFamilies(VkPhysicalDevice pd, MemoryStack stack) {
        IntBuffer count = stack.mallocInt(1);
        vkGetPhysicalDeviceQueueFamilyProperties(pd, count, null);
        VkQueueFamilyProperties.Buffer families = VkQueueFamilyProperties.malloc(count.get(0), stack);
        vkGetPhysicalDeviceQueueFamilyProperties(pd, count, families);
        return families;
    }

    private static int computeQueueFamily(VkQueueFamilyProperties.Buffer families) {
        for (int i = 0; i < families.capacity(); i++) {
            if ((families.get(i).queueFlags() & VK_QUEUE_COMPUTE_BIT) != 0) return i;
        }
        return -1;
    }

    /** The device's extensions; their properties (260 bytes each, a GPU has hundreds) on a frame of their own. */
    private static Set<String> deviceExtensions(VkPhysicalDevice pd, MemoryStack stack) {
        try (MemoryStack frame = stack.push()) {
            IntBuffer count = frame.mallocInt(1);
            Vk.check(vkEnumerateDeviceExtensionProperties(pd, (String) null, count, null), "vkEnumerateDeviceExtensionProperties");
            VkExtensionProperties.Buffer props = VkExtensionProperties.malloc(count.get(0), frame);
            Vk.check(vkEnumerateDeviceExtensionProperties(pd, (String) null, count, props), "vkEnumerateDeviceExtensionProperties");
            Set<String> names = new HashSet<>();
            for (VkExtensionProperties p : props) names.add(p.extensionNameString());
            return names;
        }
    }

    private static long deviceLocalBytes(VkPhysicalDevice pd, MemoryStack stack) {
        VkPhysicalDeviceMemoryProperties memory = VkPhysicalDeviceMemoryProperties.calloc(stack);
        vkGetPhysicalDeviceMemoryProperties(pd, memory);
        long largest = 0;
        for (int i = 0; i < memory.memoryHeapCount(); i++) {
            if ((memory.memoryHeaps(i).flags() & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) != 0) largest = Math.max(largest, memory.memoryHeaps(i).size());
        }
        return largest;
    }

    private LwjglDevice(VkInstance instance, Candidate chosen) {
        this.instance = instance;
        this.chosen = chosen;
        this.queueFamily = chosen.queueFamily();
        try (MemoryStack stack = stackPush()) {
            VkDeviceQueueCreateInfo.Buffer queues = VkDeviceQueueCreateInfo.calloc(1, stack).sType$Default()
                    .queueFamilyIndex(queueFamily).pQueuePriorities(stack.floats(1f));
            VkPhysicalDevice16BitStorageFeatures storage16 = VkPhysicalDevice16BitStorageFeatures.calloc(stack).sType$Default()
                    .storageBuffer16BitAccess(chosen.float16());
            if (chosen.tensorCores()) {
                VkPhysicalDeviceCooperativeMatrixFeaturesKHR matrices = VkPhysicalDeviceCooperativeMatrixFeaturesKHR.calloc(stack).sType$Default()
                        .cooperativeMatrix(true);
                if (chosen.tensorAddressing()) {
                    matrices.pNext(VkPhysicalDeviceCooperativeMatrix2FeaturesNV.calloc(stack).sType$Default().cooperativeMatrixWorkgroupScope(true)
                            .cooperativeMatrixFlexibleDimensions(true).cooperativeMatrixTensorAddressing(true).address());
                }
                VkPhysicalDeviceShaderFloat16Int8Features float16 = VkPhysicalDeviceShaderFloat16Int8Features.calloc(stack).sType$Default()
                        .shaderFloat16(true).pNext(matrices.address());
                storage16.pNext(VkPhysicalDeviceVulkanMemoryModelFeatures.calloc(stack).sType$Default().vulkanMemoryModel(true)
                        .pNext(float16.address()).address());
            }
            VkPhysicalDeviceFeatures2 features = VkPhysicalDeviceFeatures2.calloc(stack).sType$Default().pNext(storage16.address());
            List<String> extensions = new ArrayList<>();
            if (chosen.portabilitySubset()) extensions.add(VK_KHR_PORTABILITY_SUBSET_EXTENSION_NAME);
            if (chosen.tensorCores()) extensions.add(VK_KHR_COOPERATIVE_MATRIX_EXTENSION_NAME);
            if (chosen.tensorAddressing()) extensions.add(VK_NV_COOPERATIVE_MATRIX_2_EXTENSION_NAME);
            PointerBuffer names = stack.mallocPointer(extensions.size());
            for (String e : extensions) names.put(stack.UTF8(e));
            VkDeviceCreateInfo info = VkDeviceCreateInfo.calloc(stack).sType$Default().pNext(features.address()).pQueueCreateInfos(queues)
                    .ppEnabledExtensionNames(names.flip());
            PointerBuffer handle = stack.mallocPointer(1);
            Vk.check(vkCreateDevice(chosen.device(), info, null, handle), "vkCreateDevice(" + chosen.name() + ")");
            vk = new VkDevice(handle.get(0), chosen.device(), info);
            vkGetDeviceQueue(vk, queueFamily, 0, handle);
            queue = new VkQueue(handle.get(0), vk);
            VkPhysicalDeviceMemoryProperties memoryProps = VkPhysicalDeviceMemoryProperties.calloc(stack);
            vkGetPhysicalDeviceMemoryProperties(chosen.device(), memoryProps);
            memoryTypeFlags = new int[memoryProps.memoryTypeCount()];
            for (int i = 0; i < memoryTypeFlags.length; i++) memoryTypeFlags[i] = memoryProps.memoryTypes(i).propertyFlags();
        }
        try {
            pipelines = new Pipelines(vk);
            descriptorSets = new DescriptorSets(vk, pipelines);
            memory = newPool(MemoryKind.DEVICE, BLOCK_BYTES, "device memory");
            nullBlock = Block.id(memory.allocate(MemoryPool.ALIGNMENT));
        } catch (RuntimeException e) {
            vkDestroyDevice(vk, null); // with whatever was made on it
            throw e;
        }
    }

    @Override
    public String name() {
        return chosen.name();
    }

    @Override
    public DeviceInfo.Kind kind() {
        return chosen.kind();
    }

    @Override
    public long memoryBytes() {
        return chosen.memoryBytes();
    }

    @Override
    public boolean float16() {
        return chosen.float16();
    }

    @Override
    public boolean tensorCores() {
        return chosen.tensorCores();
    }

    @Override
    public boolean tensorAddressing() {
        return chosen.tensorAddressing();
    }

    @Override
    public long maxBufferBytes() {
        return chosen.maxStorageRange();
    }

    @Override
    public long allocate(long bytes) {
        acquire();
        try {
            return memory.allocate(bytes);
        } finally {
            release();
        }
    }

    @Override
    public void free(long address) {
        lock.readLock().lock();
        try {
            if (!closed) memory.free(address); // after close, everything is freed already
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Like {@link MemoryPool#allocationOf}, for the device's own pool (what outlives a pass). */
    boolean allocationOf(long address, long[] range) {
        return memory.allocationOf(address, range);
    }

    @Override
    public long peakMemoryBytes() {
        return deviceMemory.peak();
    }

    @Override
    public void resetPeakMemory() {
        deviceMemory.resetPeak();
    }

    /** How to read the compute queue's timestamps. */
    Timestamps timestamps() {
        return chosen.timestamps();
    }

    @Override
    public CommandStream newStream() {
        acquire();
        try {
            LwjglStream s = new LwjglStream(this);
            synchronized (streams) {
                streams.add(s);
            }
            return s;
        } finally {
            release();
        }
    }

    void closeStream(LwjglStream s) {
        lock.readLock().lock();
        try {
            synchronized (streams) {
                if (!streams.remove(s)) return; // closed with the device already
            }
            s.destroy();
        } finally {
            lock.readLock().unlock();
        }
    }

    /** Starts a stretch of Vulkan calls: shared with other threads, exclusive of {@link #close}. */
    void acquire() {
        lock.readLock().lock();
        if (closed) {
            lock.readLock().unlock();
            throw new DeviceException("the Vulkan device " + chosen.name() + " is closed (the JVM is shutting down)");
        }
    }

    void release() {
        lock.readLock().unlock();
    }

    /** A pool of {@code kind} memory in blocks of {@code blockBytes} (for the device, or for a stream). */
    MemoryPool newPool(MemoryKind kind, long blockBytes, String what) {
        return new MemoryPool(new MemoryPool.BlockSource() {
            @Override
            public Block create(long bytes) {
                return createBlock(bytes, kind, what);
            }

            @Override
            public void destroy(Block block) {
                destroyBlock(block);
            }
        }, blockBytes, chosen.maxStorageRange(), what, kind == MemoryKind.DEVICE ? deviceMemory : null);
    }

    private Block createBlock(long bytes, MemoryKind kind, String what) {
        try (MemoryStack stack = stackPush()) {
            LongBuffer handle = stack.mallocLong(1);
            VkBufferCreateInfo info = VkBufferCreateInfo.calloc(stack).sType$Default().size(bytes).sharingMode(VK_SHARING_MODE_EXCLUSIVE)
                    .usage(VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT | VK_BUFFER_USAGE_TRANSFER_DST_BIT);
            Vk.check(vkCreateBuffer(vk, info, null, handle), "vkCreateBuffer(" + bytes + " bytes)");
            long buffer = handle.get(0);
            VkMemoryRequirements needs = VkMemoryRequirements.calloc(stack);
            vkGetBufferMemoryRequirements(vk, buffer, needs);
            int result = vkAllocateMemory(vk, VkMemoryAllocateInfo.calloc(stack).sType$Default().allocationSize(needs.size())
                    .memoryTypeIndex(memoryType(needs.memoryTypeBits(), kind)), null, handle);
            if (result != VK_SUCCESS) {
                vkDestroyBuffer(vk, buffer, null);
                throw new DeviceException("allocating " + (bytes >> 20) + " MiB of " + what + " on " + chosen.name() + " failed: "
                        + Vk.describe(result));
            }
            long deviceMemory = handle.get(0);
            Vk.check(vkBindBufferMemory(vk, buffer, deviceMemory, 0), "vkBindBufferMemory");
            long mapped = 0;
            if (kind == MemoryKind.STAGING) {
                PointerBuffer host = stack.mallocPointer(1);
                Vk.check(vkMapMemory(vk, deviceMemory, 0, VK_WHOLE_SIZE, 0, host), "vkMapMemory");
                mapped = host.get(0);
            }
            Block b = new Block(nextBlockId.getAndIncrement(), buffer, deviceMemory, bytes, mapped);
            blocks.put(b.id(), b);
            return b;
        }
    }

    private int memoryType(int allowedTypes, MemoryKind kind) {
        for (int flags : kind.preferred) {
            for (int i = 0; i < memoryTypeFlags.length; i++) {
                if ((allowedTypes & (1 << i)) != 0 && (memoryTypeFlags[i] & flags) == flags) return i;
            }
        }
        throw new DeviceException(chosen.name() + " has no memory type for " + kind + " buffers");
    }

    private void destroyBlock(Block b) {
        blocks.remove(b.id());
        descriptorSets.forget(b.id());
        if (b.mapped() != 0) vkUnmapMemory(vk, b.memory());
        vkDestroyBuffer(vk, b.buffer(), null);
        vkFreeMemory(vk, b.memory(), null);
    }

    Block block(int id) {
        Block b = blocks.get(id);
        if (b == null) throw new IllegalStateException("no memory block " + id + " (a buffer used after it was freed?)");
        return b;
    }

    /** Host address of a staging buffer's memory. */
    long hostAddress(long address) {
        return block(Block.id(address)).mapped() + Block.offset(address);
    }

    /** Runs a recorded pass on the queue and waits for it. */
    void submit(org.lwjgl.vulkan.VkCommandBuffer commands, long fence) {
        try (MemoryStack stack = stackPush()) {
            VkSubmitInfo info = VkSubmitInfo.calloc(stack).sType$Default().pCommandBuffers(stack.pointers(commands));
            synchronized (queue) {
                Vk.check(vkQueueSubmit(queue, info, fence), "vkQueueSubmit");
            }
            Vk.check(vkWaitForFences(vk, fence, true, -1L), "vkWaitForFences");
            Vk.check(vkResetFences(vk, fence), "vkResetFences");
        }
    }

    /** Waits for running work, then frees every stream, buffer, pipeline, the device and the instance. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            if (closed) return;
            closed = true;
            vkDeviceWaitIdle(vk);
            synchronized (streams) {
                for (LwjglStream s : streams) s.destroy();
                streams.clear();
            }
            memory.close();
            descriptorSets.close();
            pipelines.close();
            vkDestroyDevice(vk, null);
            vkDestroyInstance(instance, null);
        } finally {
            lock.writeLock().unlock();
        }
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is shutting down (this may be the hook itself): nothing to unregister
        }
    }
}
