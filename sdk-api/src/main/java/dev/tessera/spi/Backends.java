package dev.tessera.spi;

import dev.tessera.BackendUnavailableException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.ServiceLoader;
import org.jspecify.annotations.Nullable;

/** The registry of backend providers on the class path, ranked. */
public final class Backends {
    /** Environment variable naming the backend to use when no option names one. */
    public static final String ENV = "TESSERA_BACKEND";

    private Backends() {}

    /** Every provider found, best rank first (available or not). */
    public static List<BackendProvider> all() {
        List<BackendProvider> list = new ArrayList<>();
        for (BackendProvider p : ServiceLoader.load(BackendProvider.class, Backends.class.getClassLoader())) list.add(p);
        list.sort(Comparator.comparingInt(BackendProvider::rank).reversed());
        return list;
    }

    /** The best-ranked available provider (the CPU backend is always available). */
    public static BackendProvider best() {
        for (BackendProvider p : all()) if (p.unavailableReason() == null) return p;
        throw new BackendUnavailableException("no backend is available (is sdk-runtime on the class path?)");
    }

    /**
     * The provider to use: {@code requested} if given, else the one TESSERA_BACKEND names, else the
     * best-ranked available one.
     *
     * @throws BackendUnavailableException if the named backend is missing or unavailable (with why)
     */
    public static BackendProvider choose(@Nullable String requested) {
        String name = requested != null ? requested : System.getenv(ENV);
        List<BackendProvider> all = all();
        if (name != null && !name.isEmpty()) {
            for (BackendProvider p : all) {
                if (p.name().equalsIgnoreCase(name)) {
                    if (p.unavailableReason() != null) {
                        throw new BackendUnavailableException("backend '" + name + "' is unavailable: " + p.unavailableReason());
                    }
                    return p;
                }
            }
            List<String> names = new ArrayList<>();
            for (BackendProvider p : all) names.add(p.name());
            throw new BackendUnavailableException("no backend named '" + name + "'; found " + names);
        }
        return best();
    }
}
