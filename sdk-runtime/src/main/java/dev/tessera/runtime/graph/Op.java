package dev.tessera.runtime.graph;

import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * One operation of a model graph: its parameters and weights, no code. Backends implement the ops;
 * the sparse planner rewrites graphs made of them. Each op knows its output shape and its
 * multiply-accumulate count, so graphs can be checked and costed without running them.
 */
public sealed interface Op {

    /** The output shape for these input shapes; throws IllegalArgumentException if they do not fit. */
    Shape outputShape(List<Shape> inputs);

    /** Multiply-accumulates for one evaluation on inputs of these shapes (0 for memory-bound ops). */
    default long macs(List<Shape> inputs) {
        return 0;
    }

    /** Zero padding on each side of a convolution's input. */
    record Padding(int top, int left, int bottom, int right) {
        public static Padding same(int p) {
            return new Padding(p, p, p, p);
        }
    }

    /** 2D convolution, weight OIHW, optional bias; padding is zeros. */
    record Conv2d(Tensor weight, @Nullable Tensor bias, int stride, Padding padding) implements Op {
        public int outChannels() { return weight.shape().dim(0); }
        public int inChannels() { return weight.shape().dim(1); }
        public int kernelH() { return weight.shape().dim(2); }
        public int kernelW() { return weight.shape().dim(3); }

        @Override
        public Shape outputShape(List<Shape> in) {
            Shape x = single(in, 4);
            require(x.c() == inChannels(), "conv expects " + inChannels() + " input channels, got " + x);
            int h = (x.h() + padding.top + padding.bottom - kernelH()) / stride + 1;
            int w = (x.w() + padding.left + padding.right - kernelW()) / stride + 1;
            require(h > 0 && w > 0, "conv input " + x + " smaller than its kernel");
            return Shape.nchw(x.n(), outChannels(), h, w);
        }

        @Override
        public long macs(List<Shape> in) {
            Shape y = outputShape(in);
            return (long) y.size() * inChannels() * kernelH() * kernelW();
        }
    }

    /** Group normalization with a per-channel affine; statistics over each group of each sample. */
    record GroupNorm(int groups, float eps, Tensor weight, Tensor bias) implements Op {
        @Override
        public Shape outputShape(List<Shape> in) {
            Shape x = single(in, 4);
            require(x.c() % groups == 0 && x.c() == weight.size(), "group norm of " + weight.size() + " channels in "
                    + groups + " groups got " + x);
            return x;
        }
    }

    /** Batch normalization in eval mode: a fixed per-channel affine from running statistics. */
    /** {@code 1 / sqrt(var + eps)} of eval-mode normalization, in double then rounded, as every backend computes it. */
    static float inverseStd(float var, float eps) {
        return (float) (1.0 / Math.sqrt(var + eps));
    }

    /** Eval-mode normalization (batch norm, SPADE's) as per-channel {@code {scale, shift}}: {@code x * scale + shift}. */
    static float[][] evalNormAffine(Tensor runningMean, Tensor runningVar, float eps) {
        float[] scale = new float[runningMean.size()], shift = new float[runningMean.size()];
        for (int c = 0; c < scale.length; c++) {
            scale[c] = inverseStd(runningVar.get(c), eps);
            shift[c] = -runningMean.get(c) * scale[c];
        }
        return new float[][] {scale, shift};
    }

    record BatchNorm(Tensor runningMean, Tensor runningVar, float eps) implements Op {
        @Override
        public Shape outputShape(List<Shape> in) {
            Shape x = single(in, 4);
            require(x.c() == runningMean.size(), "batch norm of " + runningMean.size() + " channels got " + x);
            return x;
        }
    }

    /**
     * SPADE modulation: {@code bn(x) * (1 + gamma) + beta} where inputs are {@code x} [N,C,H,W] and
     * {@code gammaBeta} [N,2C,H,W] (gamma first), and {@code bn} is eval-mode batch norm without affine.
     */
    record Spade(Tensor runningMean, Tensor runningVar, float eps) implements Op {
        @Override
        public Shape outputShape(List<Shape> in) {
            require(in.size() == 2, "spade takes x and gamma_beta");
            Shape x = in.get(0);
            Shape gb = in.get(1);
            require(x.rank() == 4 && x.c() == runningMean.size(), "spade of " + runningMean.size() + " channels got " + x);
            require(gb.equals(x.withDim(1, 2 * x.c())), "spade gamma_beta " + gb + " does not fit x " + x);
            return x;
        }
    }

    /** Pointwise activation. */
    record Activation(Kind kind, float slope) implements Op {
        public enum Kind { RELU, LEAKY_RELU, SILU, TANH }

        public static Activation of(Kind kind) {
            return new Activation(kind, 0f);
        }

        public static Activation leakyRelu(float slope) {
            return new Activation(Kind.LEAKY_RELU, slope);
        }

        public float apply(float v) {
            switch (kind) {
                case RELU: return v > 0 ? v : 0f;
                case LEAKY_RELU: return v > 0 ? v : v * slope;
                case SILU: return v * FastMath.sigmoid(v);
                default: return 2f * FastMath.sigmoid(2f * v) - 1f; // tanh; Math.tanh is StrictMath's, slow
            }
        }

        @Override
        public Shape outputShape(List<Shape> in) {
            return single(in, -1);
        }
    }

    /** Nearest-neighbour resize to a fixed size, PyTorch's {@code interpolate(mode="nearest")}. */
    record ResizeNearest(int height, int width) implements Op {
        /** PyTorch's nearest: source index {@code min(floor(dst * in / out), in - 1)} of each of {@code out} pixels, in float. */
        public static int[] sourceIndex(int in, int out) {
            float scale = (float) in / out;
            int[] idx = new int[out];
            for (int i = 0; i < out; i++) idx[i] = Math.min((int) Math.floor(i * scale), in - 1);
            return idx;
        }

        @Override
        public Shape outputShape(List<Shape> in) {
            Shape x = single(in, 4);
            return Shape.nchw(x.n(), x.c(), height, width);
        }
    }

    /**
     * Single-head self-attention over the pixels of a map: input the fused qkv map [N,3C,H,W], output
     * {@code softmax(q^T k / sqrt(C)) v} as [N,C,H,W].
     */
    record SelfAttention() implements Op {
        @Override
        public Shape outputShape(List<Shape> in) {
            Shape qkv = single(in, 4);
            require(qkv.c() % 3 == 0, "attention qkv channels must be a multiple of 3, got " + qkv);
            return qkv.withDim(1, qkv.c() / 3);
        }

        @Override
        public long macs(List<Shape> in) {
            Shape qkv = single(in, 4);
            long tokens = (long) qkv.h() * qkv.w();
            return 2L * qkv.n() * tokens * tokens * (qkv.c() / 3);
        }
    }

    /** Fully connected layer on [N, in]: {@code x W^T + b}. */
    record Linear(Tensor weight, Tensor bias) implements Op {
        @Override
        public Shape outputShape(List<Shape> in) {
            Shape x = single(in, 2);
            require(x.dim(1) == weight.shape().dim(1), "linear expects " + weight.shape().dim(1) + " features, got " + x);
            return Shape.of(x.dim(0), weight.shape().dim(0));
        }

        @Override
        public long macs(List<Shape> in) {
            return (long) single(in, 2).dim(0) * weight.size();
        }
    }

    /** Sinusoidal timestep embedding of DDPM (sin half, then cos half) for timesteps [N]. */
    record TimestepEmbedding(int dim) implements Op {
        /** The {@code dim / 2} frequencies {@code exp(-i * log(10000) / (dim/2 - 1))}, in float32 like the reference. */
        public float[] frequencies() {
            int half = dim / 2;
            float step = (float) (Math.log(10000) / (half - 1));
            float[] f = new float[half];
            for (int i = 0; i < half; i++) f[i] = (float) Math.exp(i * -step);
            return f;
        }

        @Override
        public Shape outputShape(List<Shape> in) {
            return Shape.of(single(in, 1).dim(0), dim);
        }
    }

    /** Concatenation along channels (dim 1). */
    record Concat() implements Op {
        @Override
        public Shape outputShape(List<Shape> in) {
            require(!in.isEmpty(), "concat of nothing");
            int c = 0;
            for (Shape s : in) {
                require(s.rank() == 4 && s.withDim(1, 0).equals(in.get(0).withDim(1, 0)), "concat of " + in);
                c += s.c();
            }
            return in.get(0).withDim(1, c);
        }
    }

    /** Elementwise sum; the second input may instead be [N, C], added to every pixel of channel C. */
    record Add() implements Op {
        @Override
        public Shape outputShape(List<Shape> in) {
            require(in.size() == 2, "add takes two inputs");
            Shape a = in.get(0);
            Shape b = in.get(1);
            boolean perChannel = a.rank() == 4 && b.equals(Shape.of(a.n(), a.c()));
            require(a.equals(b) || perChannel, "cannot add " + b + " to " + a);
            return a;
        }
    }

    /** Channels [start, start + count) of an NCHW map or an [N, F] matrix (dim 1). */
    record SliceChannels(int start, int count) implements Op {
        @Override
        public Shape outputShape(List<Shape> in) {
            Shape x = single(in, -1);
            require(x.rank() >= 2 && start >= 0 && start + count <= x.dim(1), "slice [" + start + ", " + (start + count)
                    + ") of " + x);
            return x.withDim(1, count);
        }
    }

    private static Shape single(List<Shape> in, int rank) {
        require(in.size() == 1, "expected one input, got " + in.size());
        Shape s = in.get(0);
        require(rank < 0 || s.rank() == rank, "expected rank " + rank + ", got " + s);
        return s;
    }

    private static void require(boolean ok, String message) {
        if (!ok) throw new IllegalArgumentException(message);
    }
}
