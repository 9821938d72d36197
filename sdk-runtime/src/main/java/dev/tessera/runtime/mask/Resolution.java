package dev.tessera.runtime.mask;

/** A spatial size (height, width) of a feature map or mask; prints as {@code 64x128}. */
public record Resolution(int height, int width) {
    public Resolution {
        if (height <= 0 || width <= 0) throw new IllegalArgumentException("resolution must be positive, got " + height + "x" + width);
    }

    @Override
    public String toString() {
        return height + "x" + width;
    }
}
