package dev.tessera.runtime.backend;

import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlan;
import dev.tessera.runtime.tensor.Tensor;
import org.jspecify.annotations.Nullable;

/**
 * Runs one graph on one device: dense passes, full passes that fill an {@link ActivationCache}, and
 * sparse passes that execute {@link SparsePlan}s against such a cache. Inputs and outputs are host
 * tensors; everything in between stays on the device. Not thread-safe.
 */
public interface GraphExecutor extends AutoCloseable {
    /** Hears about progress after each node or step; may throw (e.g. CancelledException) to stop the pass. */
    interface Progress {
        void step(int done, int total);
    }

    /** Exact bytes one full pass puts in a cache (for budgets, before running it). */
    long cacheBytes();

    /** An empty cache for this executor's device that refuses to hold more than {@code budgetBytes}. */
    ActivationCache newCache(long budgetBytes);

    /** A dense pass that leaves no cache (the baseline an edit is measured against). */
    Tensor dense(Tensor... inputs);

    /** The full pass on the original inputs: returns the output and fills {@code cache}. */
    Tensor full(ActivationCache cache, @Nullable Progress progress, Tensor... inputs);

    /**
     * The sparse pass: {@code plan} on the edited inputs against the cache of the original's full pass;
     * with {@code update}, the edit is then written into the cache so the next edit is relative to
     * this one. If {@code progress} throws, the cache stays as it was.
     *
     * @throws dev.tessera.InvalidInputException if an input's shape differs from the graph's, an input
     *     that is not editable differs from the cached one, or an input holds NaN or Inf
     * @throws dev.tessera.NoFullPassException if the cache holds no full pass
     */
    Tensor sparse(ActivationCache cache, SparsePlan plan, boolean update, @Nullable Progress progress, Tensor... inputs);

    /** Time per step kind (see {@link SparsePlan#kind}) while enabled; GPU backends add per-node dense times. */
    StepProfile profile();

    @Override
    void close();
}
