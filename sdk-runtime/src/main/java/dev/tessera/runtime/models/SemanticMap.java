package dev.tessera.runtime.models;

import dev.tessera.InvalidInputException;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;

/**
 * GauGAN's input from a label map: one channel per label (one-hot), plus the instance-edge channel,
 * 1 where a pixel's instance id differs from one of its four neighbours.
 */
public final class SemanticMap {
    private SemanticMap() {}

    /**
     * @param labels label id per pixel, row-major [height, width], each in [0, labelCount)
     * @param instances instance id per pixel, same layout
     * @throws InvalidInputException if the arrays do not hold height x width ids or a label is out of range
     */
    public static Tensor of(int[] labels, int[] instances, int height, int width, int labelCount) {
        int plane = height * width;
        if (labels.length != plane || instances.length != plane) {
            throw new InvalidInputException("label map of " + labels.length + " and instance map of " + instances.length
                    + " pixels, expected " + height + " x " + width + " = " + plane);
        }
        Tensor t = Tensor.zeros(Shape.nchw(1, labelCount + 1, height, width));
        for (int i = 0; i < plane; i++) {
            int label = labels[i];
            if (label < 0 || label >= labelCount) {
                throw new InvalidInputException("label " + label + " at pixel (" + i / width + ", " + i % width
                        + ") is outside [0, " + labelCount + ")");
            }
            t.set(label * plane + i, 1f);
        }
        int edges = labelCount * plane;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int i = y * width + x;
                if (x + 1 < width && instances[i] != instances[i + 1]) {
                    t.set(edges + i, 1f);
                    t.set(edges + i + 1, 1f);
                }
                if (y + 1 < height && instances[i] != instances[i + width]) {
                    t.set(edges + i, 1f);
                    t.set(edges + i + width, 1f);
                }
            }
        }
        return t;
    }
}
