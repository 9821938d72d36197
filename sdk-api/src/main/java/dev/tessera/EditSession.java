package dev.tessera;

import java.util.concurrent.CompletableFuture;
import org.jspecify.annotations.Nullable;

/**
 * Incremental editing of one image. {@link #generate} runs the full pass on the original and keeps
 * its activations; each {@link #edit} recomputes only what the change touches, relative to the last
 * accepted state; {@link #accept} makes the last edit the new baseline (so the next edit is again
 * incremental), {@link #revert} returns to the last accepted state.
 *
 * <p>Thread-safe: calls from several threads run one at a time. Long runs report progress and can
 * be cancelled ({@link CompletableFuture#cancel}); a cancelled run stops at the next layer or step
 * boundary, frees what it held, and leaves the session as it was before the run.
 */
public interface EditSession extends AutoCloseable {
    /** Full pass on the original; the result's MAC counts are those of the dense pass. */
    EditResult generate(EditInput original);

    EditResult edit(EditInput edited);

    CompletableFuture<EditResult> generateAsync(EditInput original, EditProgress.@Nullable Listener listener);

    CompletableFuture<EditResult> editAsync(EditInput edited, EditProgress.@Nullable Listener listener);

    /** Makes the last edit the baseline of the next one. */
    void accept();

    /** Forgets edits since the last accept (or generate); returns the accepted image. */
    Image revert();

    /** The accepted image (after generate or accept). */
    Image current();

    @Override
    void close();
}
