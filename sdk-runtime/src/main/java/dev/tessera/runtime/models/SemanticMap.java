package dev.tessera.runtime.models;

import dev.tessera.InvalidInputException;
import dev.tessera.runtime.mask.Mask;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.util.function.IntConsumer;
import org.jspecify.annotations.Nullable;

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
        checkSize(labels, instances, height, width);
        int plane = height * width;
        for (int i = 0; i < plane; i++) checkLabel(labels[i], i, width, labelCount);
        Tensor t = Tensor.zeros(Shape.nchw(1, labelCount + 1, height, width));
        int edges = labelCount * plane;
        for (int i = 0; i < plane; i++) {
            t.set(labels[i] * plane + i, 1f);
            if (edge(instances, i, height, width)) t.set(edges + i, 1f);
        }
        return t;
    }

    /**
     * The pixels where the inputs of two label maps differ: a different label, or a different
     * instance-edge bit (an instance change also changes the edges of its neighbours). This is
     * {@link dev.tessera.runtime.mask.DifferenceMask#changed} of the two inputs for any threshold
     * below 1 (their values are 0 and 1), without building them: a pass over the ids instead of
     * over 36 channels.
     */
    public static Mask changed(int[] labelsA, int[] instancesA, int[] labelsB, int[] instancesB, int height, int width) {
        checkSize(labelsA, instancesA, height, width);
        checkSize(labelsB, instancesB, height, width);
        int plane = height * width;
        boolean[] bits = new boolean[plane];
        for (int i = 0; i < plane; i++) {
            if (labelsA[i] != labelsB[i]) bits[i] = true;
            if (instancesA[i] != instancesB[i]) { // only here and at its neighbours can an edge bit change
                forEdgeNeighbourhood(i, height, width, j -> {
                    if (edge(instancesA, j, height, width) != edge(instancesB, j, height, width)) bits[j] = true;
                });
            }
        }
        return Mask.of(height, width, bits);
    }

    /**
     * GauGAN's input for one label map at a time, in one tensor that each new map rewrites only where
     * it differs from the last: a brush stroke costs the pixels it touches instead of a fresh 36-channel
     * map (19 MB for Cityscapes) a stroke. Not thread-safe; the tensor it returns changes with the next
     * {@link #encode}.
     */
    public static final class Encoder {
        private final int height, width, labelCount;
        private @Nullable Tensor tensor;
        private int[] labels = new int[0], instances = new int[0]; // the map the tensor holds

        public Encoder(int height, int width, int labelCount) {
            this.height = height;
            this.width = width;
            this.labelCount = labelCount;
        }

        /**
         * The input of {@code labels} and {@code instances}, as {@link SemanticMap#of} makes it.
         *
         * @throws InvalidInputException as {@link SemanticMap#of} does; the encoder then still holds the previous map
         */
        public Tensor encode(int[] newLabels, int[] newInstances) {
            if (tensor == null) {
                tensor = of(newLabels, newInstances, height, width, labelCount);
                labels = newLabels.clone();
                instances = newInstances.clone();
                return tensor;
            }
            Tensor t = tensor;
            checkSize(newLabels, newInstances, height, width);
            int plane = height * width, edges = labelCount * plane;
            for (int i = 0; i < plane; i++) if (newLabels[i] != labels[i]) checkLabel(newLabels[i], i, width, labelCount);
            for (int i = 0; i < plane; i++) { // the tensor and the map it holds, rewritten where they differ
                if (newLabels[i] != labels[i]) {
                    t.set(labels[i] * plane + i, 0f);
                    t.set(newLabels[i] * plane + i, 1f);
                    labels[i] = newLabels[i];
                }
                if (newInstances[i] != instances[i]) {
                    forEdgeNeighbourhood(i, height, width, j -> t.set(edges + j, edge(newInstances, j, height, width) ? 1f : 0f));
                    instances[i] = newInstances[i];
                }
            }
            return t;
        }
    }

    /** Whether pixel {@code i}'s instance differs from one of its four neighbours'. */
    private static boolean edge(int[] instances, int i, int height, int width) {
        int x = i % width, id = instances[i];
        return (x > 0 && instances[i - 1] != id) || (x + 1 < width && instances[i + 1] != id)
                || (i >= width && instances[i - width] != id) || (i + width < height * width && instances[i + width] != id);
    }

    /** Pixel {@code i} and its four neighbours: the pixels whose edge bit depends on i's instance. */
    private static void forEdgeNeighbourhood(int i, int height, int width, IntConsumer f) {
        int x = i % width;
        f.accept(i);
        if (x > 0) f.accept(i - 1);
        if (x + 1 < width) f.accept(i + 1);
        if (i >= width) f.accept(i - width);
        if (i + width < height * width) f.accept(i + width);
    }

    private static void checkSize(int[] labels, int[] instances, int height, int width) {
        int plane = height * width;
        if (labels.length != plane || instances.length != plane) {
            throw new InvalidInputException("label map of " + labels.length + " and instance map of " + instances.length
                    + " pixels, expected " + height + " x " + width + " = " + plane);
        }
    }

    private static void checkLabel(int label, int i, int width, int labelCount) {
        if (label < 0 || label >= labelCount) {
            throw new InvalidInputException("label " + label + " at pixel (" + i / width + ", " + i % width
                    + ") is outside [0, " + labelCount + ")");
        }
    }
}
