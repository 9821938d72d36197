package dev.tessera;

/**
 * An RGB image, channel-major float32 [3, height, width] with values in [-1, 1] (the models' range).
 * The array is not copied here; a session copies the images it keeps, so a caller may reuse it between calls.
 */
public record Image(int width, int height, float[] rgb) implements EditInput {
    public Image {
        if (width <= 0 || height <= 0 || rgb.length != 3 * width * height) {
            throw new InvalidInputException("image of " + width + "x" + height + " needs " + 3L * width * height
                    + " values (3 channels), got " + rgb.length);
        }
    }

    /** Packed 0xRRGGBB pixels, row-major, for display: [-1, 1] mapped to [0, 255]. */
    public int[] toRgbPixels() {
        int plane = width * height;
        int[] out = new int[plane];
        for (int i = 0; i < plane; i++) {
            int p = 0;
            for (int c = 0; c < 3; c++) {
                int v = Math.round((rgb[c * plane + i] + 1f) * 127.5f);
                p = p << 8 | Math.max(0, Math.min(255, v));
            }
            out[i] = p;
        }
        return out;
    }

    /** From packed 0xRRGGBB pixels, [0, 255] mapped to [-1, 1]. */
    public static Image fromRgbPixels(int width, int height, int[] pixels) {
        int plane = width * height;
        float[] rgb = new float[3 * plane];
        for (int i = 0; i < plane; i++) {
            for (int c = 0; c < 3; c++) rgb[c * plane + i] = ((pixels[i] >> (16 - 8 * c)) & 0xff) / 127.5f - 1f;
        }
        return new Image(width, height, rgb);
    }
}
