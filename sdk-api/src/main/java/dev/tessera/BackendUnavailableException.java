package dev.tessera;

/** The backend asked for (by option or TESSERA_BACKEND) is missing or cannot run here; the message says why. */
public final class BackendUnavailableException extends TesseraException {
    private static final long serialVersionUID = 1L;

    public BackendUnavailableException(String message) {
        super(message);
    }
}
