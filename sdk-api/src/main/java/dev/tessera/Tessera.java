package dev.tessera;

import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.Backends;
import dev.tessera.spi.EngineProvider;
import java.util.Iterator;
import java.util.List;
import java.util.ServiceLoader;

/** The entry point: load a model, list backends. */
public final class Tessera {
    private Tessera() {}

    /**
     * Loads a model on the backend the spec names, else the one TESSERA_BACKEND names, else the best available.
     *
     * @throws InvalidWeightsException if the weights are missing, corrupt or do not fit the architecture
     * @throws BackendUnavailableException if the named backend cannot run here
     */
    public static ModelHandle load(ModelSpec spec) {
        BackendProvider backend = Backends.choose(spec.backend());
        Iterator<EngineProvider> engines = ServiceLoader.load(EngineProvider.class, Tessera.class.getClassLoader()).iterator();
        if (!engines.hasNext()) throw new BackendUnavailableException("no Tessera runtime on the class path (add sdk-runtime)");
        return engines.next().load(spec, backend);
    }

    /** Every backend provider found, best first, with its devices or why it is unavailable. */
    public static List<BackendProvider> backends() {
        return Backends.all();
    }
}
