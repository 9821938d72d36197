package dev.tessera.runtime.mask;

import dev.tessera.runtime.tensor.Tensor;

/**
 * How a model turns an edit into masks (the reference runners' parameters): the difference
 * threshold and dilation at input resolution, then the pyramid's smallest level and its dilation.
 */
public record MaskRule(float eps, int dilation, int minHeight, int minWidth, int pyramidDilation) {

    /** The difference mask of an edit, at input resolution. */
    public Mask difference(Tensor original, Tensor edited) {
        return dilate(DifferenceMask.changed(original, edited, eps));
    }

    /** The difference mask from its undilated form (pixels already found changed by more than eps). */
    public Mask dilate(Mask changed) {
        return DifferenceMask.dilate(changed, dilation);
    }

    /** The masks of every level from a difference mask. */
    public MaskPyramid pyramid(Mask difference) {
        return MaskPyramid.of(difference, minHeight, minWidth, pyramidDilation);
    }
}
