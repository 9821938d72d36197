package dev.tessera;

/**
 * A semantic label map (the input of label-to-image models such as GauGAN): a label id and an
 * instance id per pixel, row-major. The arrays are not copied here; a session copies the maps it
 * keeps, so a caller may paint into the same arrays between calls.
 */
public record LabelMap(int width, int height, int[] labels, int[] instances) implements EditInput {
    public LabelMap {
        if (width <= 0 || height <= 0 || labels.length != width * height || instances.length != width * height) {
            throw new InvalidInputException("label map of " + width + "x" + height + " needs " + width * height
                    + " labels and instance ids, got " + labels.length + " and " + instances.length);
        }
    }

    /** One instance per label: instance ids equal to labels (edges between regions of different labels). */
    public static LabelMap of(int width, int height, int[] labels) {
        return new LabelMap(width, height, labels, labels.clone());
    }
}
