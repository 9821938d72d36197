package dev.tessera;

/** A sparse (incremental) pass was asked for before the full pass on the original filled its cache. */
public final class NoFullPassException extends TesseraException {
    private static final long serialVersionUID = 1L;

    public NoFullPassException(String message) {
        super(message);
    }
}
