package dev.tessera;

/** Holding what was asked for would pass a memory budget; the message gives both byte counts. */
public final class OverBudgetException extends TesseraException {
    private static final long serialVersionUID = 1L;

    private final long requiredBytes;
    private final long budgetBytes;

    public OverBudgetException(String what, long requiredBytes, long budgetBytes) {
        super(what + " needs " + requiredBytes + " bytes, over its budget of " + budgetBytes + " bytes");
        this.requiredBytes = requiredBytes;
        this.budgetBytes = budgetBytes;
    }

    public long requiredBytes() {
        return requiredBytes;
    }

    public long budgetBytes() {
        return budgetBytes;
    }
}
