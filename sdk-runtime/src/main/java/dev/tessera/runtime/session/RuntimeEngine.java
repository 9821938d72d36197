package dev.tessera.runtime.session;

import dev.tessera.BackendUnavailableException;
import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;
import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.EngineProvider;

/** sdk-runtime's engine: builds the model graph from the spec and opens it on the CPU backend. */
public final class RuntimeEngine implements EngineProvider {
    @Override
    public ModelHandle load(ModelSpec spec, BackendProvider backend) {
        if (!backend.name().equals("cpu")) {
            throw new BackendUnavailableException("backend '" + backend.name() + "' has no engine in this runtime yet; use \"cpu\"");
        }
        return new LoadedModel(spec, backend.devices().get(0).name());
    }
}
