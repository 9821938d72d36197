package dev.tessera.runtime.session;

import dev.tessera.CancelledException;
import dev.tessera.EditInput;
import dev.tessera.EditProgress;
import dev.tessera.EditResult;
import dev.tessera.EditSession;
import dev.tessera.Image;
import dev.tessera.LabelMap;
import dev.tessera.NoFullPassException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import org.jspecify.annotations.Nullable;

/**
 * What every session shares: one lock (calls run one at a time), async runs with progress and
 * cancellation, the accepted and pending states (copies of the caller's inputs), and giving up the
 * cache under memory pressure.
 * Subclasses supply the model-specific full pass, edit and commit.
 */
abstract class BaseSession implements EditSession {
    final LoadedModel model;
    private final ReentrantLock lock = new ReentrantLock();
    private @Nullable EditInput acceptedInput;
    private @Nullable Image accepted;
    private @Nullable EditInput pendingInput;
    private @Nullable Image pendingImage;
    private volatile boolean cacheDropped;
    private boolean closed;

    BaseSession(LoadedModel model) {
        this.model = model;
    }

    /** The full pass (or passes) on {@code original}, filling a new cache; replaces the old one only on success. */
    abstract Image runFull(EditInput original, Run run);

    /** The edit of the accepted state into {@code edited}; {@code commit} also writes it into the cache. */
    abstract Image runEdit(EditInput accepted, EditInput edited, boolean commit, Run run, Map<String, Duration> phases);

    abstract long denseMacs();

    /** Set by {@link #runFull} and {@link #runEdit}: MACs of the last run, share of the input it changed. */
    long lastMacs;
    double lastFraction;

    abstract void dropCache();

    abstract long cacheBytes();

    /** Frees the session's executor (its working memory on the device). */
    abstract void closeExecutor();

    @Override
    public EditResult generate(EditInput original) {
        return generate(original, new Run(null, new AtomicBoolean()));
    }

    @Override
    public EditResult edit(EditInput edited) {
        return edit(edited, new Run(null, new AtomicBoolean()));
    }

    @Override
    public CompletableFuture<EditResult> generateAsync(EditInput original, EditProgress.@Nullable Listener listener) {
        return async(run -> generate(original, run), listener);
    }

    @Override
    public CompletableFuture<EditResult> editAsync(EditInput edited, EditProgress.@Nullable Listener listener) {
        return async(run -> edit(edited, run), listener);
    }

    private EditResult generate(EditInput input, Run run) {
        EditInput original = snapshot(input);
        return locked(() -> {
            long start = System.nanoTime();
            Image image = runFull(original, run);
            acceptedInput = original;
            accepted = image;
            pendingInput = null;
            pendingImage = null;
            cacheDropped = false;
            Map<String, Duration> phases = new LinkedHashMap<>();
            phases.put("full pass", Duration.ofNanos(System.nanoTime() - start));
            return result(image, 1.0, denseMacs(), phases, false);
        });
    }

    private EditResult edit(EditInput input, Run run) {
        EditInput edited = snapshot(input);
        return locked(() -> {
            EditInput base = requireAccepted();
            Map<String, Duration> phases = new LinkedHashMap<>();
            boolean recomputed = false;
            if (cacheDropped) { // dropped for the memory budget: rebuild from the accepted input first
                long start = System.nanoTime();
                runFull(base, run);
                cacheDropped = false;
                recomputed = true;
                phases.put("full pass (cache was dropped)", Duration.ofNanos(System.nanoTime() - start));
            }
            Image image = runEdit(base, edited, false, run, phases);
            pendingInput = edited;
            pendingImage = image;
            return result(image, lastFraction, lastMacs, phases, recomputed);
        });
    }

    @Override
    public void accept() {
        locked(() -> {
            if (pendingInput == null) return null;
            EditInput base = requireAccepted();
            if (cacheDropped) {
                runFull(pendingInput, new Run(null, new AtomicBoolean()));
                cacheDropped = false;
            } else {
                runEdit(base, pendingInput, true, new Run(null, new AtomicBoolean()), new LinkedHashMap<>());
            }
            acceptedInput = pendingInput;
            accepted = pendingImage;
            pendingInput = null;
            pendingImage = null;
            return null;
        });
    }

    @Override
    public Image revert() {
        return locked(() -> {
            pendingInput = null;
            pendingImage = null;
            return current();
        });
    }

    @Override
    public Image current() {
        return locked(() -> {
            requireAccepted();
            return accepted;
        });
    }

    /** Called by the model under budget pressure: drops the cache unless the session is busy. */
    void tryDropCache() {
        if (!lock.tryLock()) return;
        try {
            if (accepted != null && !cacheDropped) {
                dropCache();
                cacheDropped = true;
            }
        } finally {
            lock.unlock();
        }
    }

    @Override
    public void close() {
        locked(() -> {
            if (!closed) {
                closed = true;
                dropCache();
                closeExecutor();
                model.unregister(this);
            }
            return null;
        });
    }

    /**
     * A copy of what the caller handed over: the session keeps inputs as its accepted and pending
     * states, and a caller painting into the same arrays between calls must not change them.
     */
    private static EditInput snapshot(EditInput in) {
        if (in instanceof LabelMap m) return new LabelMap(m.width(), m.height(), m.labels().clone(), m.instances().clone());
        Image i = (Image) in;
        return new Image(i.width(), i.height(), i.rgb().clone());
    }

    private EditInput requireAccepted() {
        if (acceptedInput == null) throw new NoFullPassException("edit needs generate(original) first");
        return acceptedInput;
    }

    private EditResult result(Image image, double fraction, long macs, Map<String, Duration> phases, boolean recomputed) {
        return new EditResult(image, fraction, denseMacs(), macs, phases, model.backend(), model.device(), recomputed);
    }

    private interface Body<T> {
        T run();
    }

    private <T> T locked(Body<T> body) {
        lock.lock();
        try {
            if (closed) throw new IllegalStateException("session is closed");
            model.touch(this);
            return body.run();
        } finally {
            lock.unlock();
        }
    }

    private CompletableFuture<EditResult> async(java.util.function.Function<Run, EditResult> work, EditProgress.@Nullable Listener listener) {
        AtomicBoolean cancelled = new AtomicBoolean();
        CompletableFuture<EditResult> future = new CompletableFuture<>() {
            @Override
            public boolean cancel(boolean mayInterruptIfRunning) {
                cancelled.set(true);
                return super.cancel(mayInterruptIfRunning);
            }
        };
        model.async().execute(() -> {
            if (cancelled.get()) return;
            try {
                future.complete(work.apply(new Run(listener, cancelled)));
            } catch (Throwable t) {
                future.completeExceptionally(t);
            }
        });
        return future;
    }

    /** One run's progress listener and cancel flag; {@link #step} reports and stops at a boundary. */
    static final class Run {
        private final EditProgress.@Nullable Listener listener;
        private final AtomicBoolean cancelled;

        Run(EditProgress.@Nullable Listener listener, AtomicBoolean cancelled) {
            this.listener = listener;
            this.cancelled = cancelled;
        }

        void step(String phase, int done, int total) {
            if (cancelled.get()) throw new CancelledException(phase + " cancelled after " + done + " of " + total);
            if (listener != null) listener.onProgress(new EditProgress(phase, done, total));
        }
    }
}
