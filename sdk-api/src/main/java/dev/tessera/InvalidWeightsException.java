package dev.tessera;

/**
 * A weights file cannot be used: missing, truncated, malformed, or its tensors do not fit the model
 * (missing key, wrong shape, NaN or Inf). The message names the file and the problem.
 */
public final class InvalidWeightsException extends TesseraException {
    private static final long serialVersionUID = 1L;

    public InvalidWeightsException(String message) {
        super(message);
    }

    public InvalidWeightsException(String message, Throwable cause) {
        super(message, cause);
    }
}
