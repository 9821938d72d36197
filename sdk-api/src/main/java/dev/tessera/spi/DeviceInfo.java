package dev.tessera.spi;

/**
 * A device a backend can run on.
 *
 * @param backend the backend's name ("cpu", "cuda", "vulkan")
 * @param name what the device calls itself
 * @param kind how it computes (ranks software GPUs below real ones)
 * @param memoryBytes memory available to models, 0 if unknown
 */
public record DeviceInfo(String backend, String name, Kind kind, long memoryBytes) {
    public enum Kind { DISCRETE_GPU, INTEGRATED_GPU, CPU, SOFTWARE_GPU }
}
