package dev.tessera.samples;

import dev.tessera.Tessera;
import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.Backends;
import dev.tessera.spi.DeviceInfo;

/** {@code devices}: every backend found, best first, with its devices or why it is unavailable. */
final class Devices {
    private Devices() {}

    static void run() {
        String chosen;
        try {
            chosen = Backends.choose(null).name();
        } catch (RuntimeException e) {
            chosen = "none (" + e.getMessage() + ")";
        }
        for (BackendProvider p : Tessera.backends()) {
            String why = p.unavailableReason();
            System.out.printf("%-8s rank %3d  %s%n", p.name(), p.rank(), why == null ? "available" : "unavailable: " + why);
            for (DeviceInfo d : p.devices()) {
                System.out.printf("         %s, %s, %s%n", d.name(), d.kind(), d.memoryBytes() > 0 ? (d.memoryBytes() >> 20) + " MiB" : "memory unknown");
            }
        }
        System.out.println("default: " + chosen + (System.getenv(Backends.ENV) != null ? " (" + Backends.ENV + ")" : ""));
    }
}
