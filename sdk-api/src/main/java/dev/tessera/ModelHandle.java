package dev.tessera;

/**
 * A loaded model on one backend. Sessions share its weights and its cache budget: when a new
 * session's cache would pass the budget, the least recently used session's cache is dropped, and
 * that session's next edit re-runs its full pass (and says so). Thread-safe. Closing the handle
 * closes its sessions and frees native memory.
 */
public interface ModelHandle extends AutoCloseable {
    ModelSpec spec();

    /** The backend and device the model runs on, e.g. "cpu" / "2 cores (OpenBLAS)". */
    String backend();

    String device();

    /** A new editing session for images of the model's input size. */
    EditSession newSession();

    /** For diffusion models: a session that edits with SDEdit at {@code noiseLevel} (timestep, e.g. 500), {@code steps} DDIM steps, noise from {@code seed}. */
    EditSession newSession(int noiseLevel, int steps, long seed);

    /** Bytes of cached activations held by all sessions now. */
    long cacheBytes();

    @Override
    void close();
}
