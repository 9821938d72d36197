package dev.tessera.vulkan.lwjgl;

import static org.lwjgl.vulkan.VK10.*;

import dev.tessera.DeviceException;

/** VkResult checks: a failed call becomes a {@link DeviceException} naming the call and the error. */
final class Vk {
    private Vk() {}

    static void check(int result, String call) {
        if (result != VK_SUCCESS) throw new DeviceException(call + " failed: " + describe(result));
    }

    static String describe(int result) {
        switch (result) {
            case VK_ERROR_OUT_OF_HOST_MEMORY: return "out of host memory (VK_ERROR_OUT_OF_HOST_MEMORY)";
            case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "out of device memory (VK_ERROR_OUT_OF_DEVICE_MEMORY)";
            case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
            case VK_ERROR_DEVICE_LOST: return "the device was lost (VK_ERROR_DEVICE_LOST)";
            case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
            case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
            case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
            case VK_ERROR_INCOMPATIBLE_DRIVER: return "no compatible driver (VK_ERROR_INCOMPATIBLE_DRIVER)";
            case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
            default: return "VkResult " + result;
        }
    }
}
