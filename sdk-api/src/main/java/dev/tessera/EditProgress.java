package dev.tessera;

/**
 * Progress of a run: {@code done} of {@code total} units (layers of a pass, or denoising steps) of
 * {@code phase} ("full pass", "edit").
 */
public record EditProgress(String phase, int done, int total) {
    public double fraction() {
        return total == 0 ? 1.0 : (double) done / total;
    }

    /** Receives progress events, on the thread that runs the work. */
    public interface Listener {
        void onProgress(EditProgress progress);
    }
}
