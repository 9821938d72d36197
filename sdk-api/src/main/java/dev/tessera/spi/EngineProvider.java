package dev.tessera.spi;

import dev.tessera.ModelHandle;
import dev.tessera.ModelSpec;

/** The runtime that loads models (sdk-runtime provides it), found with {@link java.util.ServiceLoader}. */
public interface EngineProvider {
    ModelHandle load(ModelSpec spec, BackendProvider backend);
}
