package dev.tessera;

/**
 * An input given to a model or session does not fit it: wrong shape or channel count, a label out
 * of range, NaN or Inf. The message says what was given and what was expected.
 */
public final class InvalidInputException extends TesseraException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }
}
