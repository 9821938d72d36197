package dev.tessera;

/** A run was cancelled; it stopped at a layer or step boundary and the session stays usable. */
public final class CancelledException extends TesseraException {
    private static final long serialVersionUID = 1L;

    public CancelledException(String message) {
        super(message);
    }
}
