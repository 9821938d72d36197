package dev.tessera.runtime.mask;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What a set of active blocks depends on: the input resolution, the block (input tile) size, the
 * block stride and the offset (the conv's padding). Layers with equal keys share one
 * {@link ActiveBlocks}. Prints like the golden keys: {@code res64x64_b6x6_s4x4_o1x1}.
 */
public record BlockKey(int resHeight, int resWidth, int blockHeight, int blockWidth,
                       int strideHeight, int strideWidth, int offsetHeight, int offsetWidth) {
    private static final Pattern FORMAT = Pattern.compile("res(\\d+)x(\\d+)_b(\\d+)x(\\d+)_s(\\d+)x(\\d+)_o(\\d+)x(\\d+)");

    public BlockKey {
        if (resHeight <= 0 || resWidth <= 0) throw new IllegalArgumentException("resolution must be positive, got " + resHeight + "x" + resWidth);
        if (blockHeight <= 0 || blockWidth <= 0) throw new IllegalArgumentException("block size must be positive, got " + blockHeight + "x" + blockWidth);
        if (strideHeight <= 0 || strideWidth <= 0) throw new IllegalArgumentException("block stride must be positive, got " + strideHeight + "x" + strideWidth);
        if (offsetHeight < 0 || offsetWidth < 0) throw new IllegalArgumentException("offset must be >= 0, got " + offsetHeight + "x" + offsetWidth);
    }

    /** {@link #forConv(int, int, int, int, int, int, int, int, int, int)} with square kernel, stride, padding and block. */
    public static BlockKey forConv(int resH, int resW, int kernel, int stride, int padding, int blockSize) {
        return forConv(resH, resW, kernel, kernel, stride, stride, padding, padding, blockSize, blockSize);
    }

    /**
     * The key of a conv's gather, with the reference's rounding: the block size shrinks to the
     * largest {@code n * stride + kernel <= block} (n = max(block - kernel, 0) / stride, so at least
     * one output pixel per block), consecutive blocks start {@code (n + 1) * stride} apart, so that
     * their outputs tile without gaps or overlap, and the offset is the conv's padding. Example: a
     * 3x3 stride-2 conv with block 6 gets block 5 and block stride 4.
     */
    public static BlockKey forConv(int resH, int resW, int kernelH, int kernelW, int strideH, int strideW,
                                   int paddingH, int paddingW, int blockH, int blockW) {
        if (kernelH <= 0 || kernelW <= 0 || strideH <= 0 || strideW <= 0) {
            throw new IllegalArgumentException("kernel and stride must be positive, got kernel " + kernelH + "x" + kernelW + ", stride " + strideH + "x" + strideW);
        }
        int nh = Math.max(blockH - kernelH, 0) / strideH, nw = Math.max(blockW - kernelW, 0) / strideW;
        return new BlockKey(resH, resW, nh * strideH + kernelH, nw * strideW + kernelW,
                (nh + 1) * strideH, (nw + 1) * strideW, paddingH, paddingW);
    }

    /** Parses {@link #toString()}'s format, e.g. {@code res128x256_b6x6_s4x4_o1x1}. */
    public static BlockKey parse(String s) {
        Matcher m = FORMAT.matcher(s);
        if (!m.matches()) throw new IllegalArgumentException("not a block key (expected like res64x64_b6x6_s4x4_o1x1): " + s);
        int[] v = new int[8];
        for (int i = 0; i < 8; i++) v[i] = Integer.parseInt(m.group(i + 1));
        return new BlockKey(v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]);
    }

    public Resolution resolution() {
        return new Resolution(resHeight, resWidth);
    }

    /**
     * Rows of the pooled grid: the mask padded by the offset on top and the block size at the
     * bottom, max-pooled with window block and stride blockStride, has (res + offset) / stride + 1
     * rows; the bottom padding guarantees that the last block covering a pixel is counted.
     */
    public int gridHeight() {
        return (resHeight + offsetHeight) / strideHeight + 1;
    }

    public int gridWidth() {
        return (resWidth + offsetWidth) / strideWidth + 1;
    }

    @Override
    public String toString() {
        return "res" + resHeight + "x" + resWidth + "_b" + blockHeight + "x" + blockWidth
                + "_s" + strideHeight + "x" + strideWidth + "_o" + offsetHeight + "x" + offsetWidth;
    }
}
