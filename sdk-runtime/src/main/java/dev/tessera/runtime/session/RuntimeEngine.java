package dev.tessera.runtime.session;

import dev.tessera.BackendUnavailableException;
import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;
import dev.tessera.runtime.backend.ComputeBackend;
import dev.tessera.spi.BackendProvider;
import dev.tessera.spi.EngineProvider;

/** sdk-runtime's engine: builds the model graph from the spec and loads it on the chosen backend. */
public final class RuntimeEngine implements EngineProvider {
    @Override
    public ModelHandle load(ModelSpec spec, BackendProvider backend) {
        if (!(backend instanceof ComputeBackend compute)) {
            throw new BackendUnavailableException("backend '" + backend.name() + "' cannot run model graphs (it implements no "
                    + ComputeBackend.class.getSimpleName() + ")");
        }
        return new LoadedModel(spec, backend.name(), compute);
    }
}
