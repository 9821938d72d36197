package dev.tessera;

/**
 * The root of every failure Tessera reports. Unchecked, so Kotlin and Java callers handle the kinds
 * they care about and let the rest propagate. Each subclass is one kind of failure; its message names
 * the bad value and what was expected.
 */
public abstract class TesseraException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    protected TesseraException(String message) {
        super(message);
    }

    protected TesseraException(String message, Throwable cause) {
        super(message, cause);
    }
}
