package dev.tessera.runtime.cpu;

import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.nio.Buffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The CPU implementation of every op: matrix work on OpenBLAS, the rest as plain loops split over
 * the cores. Kernels write into a given output and use only the scratch buffers handed to them.
 */
final class CpuKernels {
    /** Upper bound, in floats, of one im2col panel: large enough for efficient GEMMs, small enough for cache. */
    static final int IM2COL_PANEL_FLOATS = 1 << 23;

    private CpuKernels() {}

    /** Scratch memory an op may need: im2col panels (convolutions), attention scores. */
    record Scratch(FloatBuffer im2col, FloatBuffer scores) {}

    /**
     * Runs {@code op} on {@code in} (one tensor per op input) into {@code out}, then {@code act} (if not
     * null) in the same pass: only conv, norms, SPADE and add take one.
     */
    static void run(Op op, Tensor[] in, Tensor out, @Nullable Scratch scratch, Op.@Nullable Activation act) {
        Tensor x = in[0];
        if (act != null && !(op instanceof Op.Conv2d || op instanceof Op.GroupNorm || op instanceof Op.BatchNorm
                || op instanceof Op.Spade || op instanceof Op.Add)) {
            throw new IllegalArgumentException("cannot fuse an activation into " + op);
        }
        if (op instanceof Op.Conv2d c) conv2d(c, x, out, scratch.im2col(), act);
        else if (op instanceof Op.GroupNorm gn) groupNorm(gn, x, out, act);
        else if (op instanceof Op.BatchNorm bn) batchNorm(bn, x, out, act);
        else if (op instanceof Op.Spade sp) spade(sp, x, in[1], out, act);
        else if (op instanceof Op.Activation a) activation(a, x, out);
        else if (op instanceof Op.ResizeNearest) resizeNearest(x, out);
        else if (op instanceof Op.SelfAttention) selfAttention(x, out, scratch.scores());
        else if (op instanceof Op.Linear l) linear(l, x, out);
        else if (op instanceof Op.TimestepEmbedding te) timestepEmbedding(te, x, out);
        else if (op instanceof Op.Concat) concat(Arrays.asList(in), out);
        else if (op instanceof Op.Add) add(x, in[1], out, act);
        else if (op instanceof Op.SliceChannels s) sliceChannels(s, x, out);
        else throw new IllegalStateException("no CPU kernel for " + op);
    }

    /**
     * Convolution as GEMM: {@code out[Cout, Ho*Wo] = W[Cout, Cin*kh*kw] x cols[Cin*kh*kw, Ho*Wo]}. The
     * im2col matrix is built a panel of output rows at a time so scratch stays bounded; a 1x1
     * stride-1 convolution without padding reads the input directly.
     */
    static void conv2d(Op.Conv2d op, Tensor x, Tensor out, FloatBuffer cols, Op.@Nullable Activation act) {
        Shape xs = x.shape();
        Shape ys = out.shape();
        int cin = xs.c(), h = xs.h(), w = xs.w();
        int cout = ys.c(), ho = ys.h(), wo = ys.w();
        int kh = op.kernelH(), kw = op.kernelW();
        int k = cin * kh * kw;
        Op.Padding p = op.padding();
        boolean direct = kh == 1 && kw == 1 && op.stride() == 1
                && p.equals(Op.Padding.same(0));
        FloatBuffer weight = op.weight().data();
        for (int n = 0; n < xs.n(); n++) {
            int xOff = n * cin * h * w;
            int yOff = n * cout * ho * wo;
            if (direct) {
                Blas.sgemm(false, false, cout, h * w, k, 1f, weight, 0, k, x.data(), xOff, h * w, 0f, out.data(), yOff, ho * wo);
            } else {
                int rowsPerPanel = Math.max(1, Math.min(ho, IM2COL_PANEL_FLOATS / (k * wo)));
                for (int y0 = 0; y0 < ho; y0 += rowsPerPanel) {
                    int rows = Math.min(rowsPerPanel, ho - y0);
                    im2col(op, x.data(), xOff, h, w, wo, y0, rows, cols);
                    Blas.sgemm(false, false, cout, rows * wo, k, 1f, weight, 0, k, cols, 0, rows * wo,
                            0f, out.data(), yOff + y0 * wo, ho * wo);
                }
            }
            if (op.bias() != null || act != null) biasAndActivation(out.data(), yOff, cout, ho * wo, op.bias(), act);
        }
    }

    /**
     * Rows {@code [y0, y0+rows)} of the im2col matrix: row (c, i, j) holds x[c, y*s - top + i, x*s - left + j],
     * zero outside the input. With stride 1 each output row is one bulk copy between zero margins.
     */
    private static void im2col(Op.Conv2d op, FloatBuffer x, int xOff, int h, int w, int wo, int y0, int rows, FloatBuffer cols) {
        int kh = op.kernelH(), kw = op.kernelW(), s = op.stride();
        int top = op.padding().top(), left = op.padding().left();
        int panel = rows * wo;
        Parallel.forEach(op.inChannels() * kh * kw, r -> {
            int c = r / (kh * kw), i = (r / kw) % kh, j = r % kw;
            int plane = xOff + c * h * w;
            // Output columns whose input column x*s - left + j lies inside [0, w).
            int first = Math.min(wo, Math.max(0, (left - j + s - 1) / s));
            int end = Math.max(first, Math.min(wo, (w - 1 + left - j) / s + 1));
            FloatBuffer src = x.duplicate(), dst = cols.duplicate();
            for (int y = 0; y < rows; y++) {
                int iy = (y0 + y) * s - top + i;
                int row = r * panel + y * wo;
                if (iy < 0 || iy >= h) {
                    for (int ox = 0; ox < wo; ox++) cols.put(row + ox, 0f);
                    continue;
                }
                for (int ox = 0; ox < first; ox++) cols.put(row + ox, 0f);
                for (int ox = end; ox < wo; ox++) cols.put(row + ox, 0f);
                int from = plane + iy * w + first * s - left + j;
                if (s == 1) {
                    copy(src, from, dst, row + first, end - first);
                } else {
                    for (int ox = first; ox < end; ox++) cols.put(row + ox, x.get(from + (ox - first) * s));
                }
            }
        });
    }

    /** {@code dst[0..count) = src[from..]} through a caller-owned duplicate {@code src}. */
    static void copyInto(FloatBuffer src, int from, float[] dst, int count) {
        ((Buffer) src).limit(from + count);
        ((Buffer) src).position(from);
        src.get(dst, 0, count);
    }

    /** {@code dst[at..] = src[0..count)} through a caller-owned duplicate {@code dst}. */
    static void copyFrom(float[] src, FloatBuffer dst, int at, int count) {
        ((Buffer) dst).limit(at + count);
        ((Buffer) dst).position(at);
        dst.put(src, 0, count);
    }

    /** Bulk copy through caller-owned duplicates (no allocation): {@code dst[at..] = src[from..]}. */
    static void copy(FloatBuffer src, int from, FloatBuffer dst, int at, int count) {
        ((Buffer) src).limit(from + count);
        ((Buffer) src).position(from);
        ((Buffer) dst).limit(at + count);
        ((Buffer) dst).position(at);
        dst.put(src);
    }

    private static void biasAndActivation(FloatBuffer y, int offset, int channels, int plane, @Nullable Tensor bias,
            Op.@Nullable Activation act) {
        Parallel.forEach(channels, c -> {
            float b = bias == null ? 0f : bias.get(c);
            int base = offset + c * plane;
            if (act == null) {
                for (int i = 0; i < plane; i++) y.put(base + i, y.get(base + i) + b);
            } else {
                for (int i = 0; i < plane; i++) y.put(base + i, act.apply(y.get(base + i) + b));
            }
        });
    }

    static void groupNorm(Op.GroupNorm op, Tensor x, Tensor out, Op.@Nullable Activation act) {
        Shape s = x.shape();
        int plane = s.h() * s.w();
        float[] scale = new float[s.c()], shift = new float[s.c()];
        for (int n = 0; n < s.n(); n++) {
            groupNormAffine(op, x, n, scale, shift);
            perChannelAffine(x.data(), out.data(), n * s.c() * plane, s.c(), plane, scale, shift, act);
        }
    }

    /**
     * Group norm of sample {@code n} as a per-channel affine {@code y = x * scale + shift}: the
     * statistics (in double) folded with the norm's weight and bias. The sparse pass reuses it.
     */
    static void groupNormAffine(Op.GroupNorm op, Tensor x, int n, float[] scale, float[] shift) {
        Shape s = x.shape();
        int groupChannels = s.c() / op.groups();
        int count = groupChannels * s.h() * s.w();
        FloatBuffer in = x.data();
        Parallel.forEach(op.groups(), g -> {
            double[] stats = sumAndSquares(in, (n * op.groups() + g) * count, count);
            double mean = stats[0] / count;
            double inv = 1.0 / Math.sqrt(Math.max(0, stats[1] / count - mean * mean) + op.eps());
            for (int c = g * groupChannels; c < (g + 1) * groupChannels; c++) {
                scale[c] = (float) (op.weight().get(c) * inv);
                shift[c] = (float) (op.bias().get(c) - mean * op.weight().get(c) * inv);
            }
        });
    }

    /** Sum and sum of squares in double, four independent accumulators so the adds overlap. */
    private static double[] sumAndSquares(FloatBuffer x, int start, int count) {
        double s0 = 0, s1 = 0, s2 = 0, s3 = 0, q0 = 0, q1 = 0, q2 = 0, q3 = 0;
        int i = start, end = start + count, end4 = start + (count & ~3);
        for (; i < end4; i += 4) {
            double a = x.get(i), b = x.get(i + 1), c = x.get(i + 2), d = x.get(i + 3);
            s0 += a; s1 += b; s2 += c; s3 += d;
            q0 += a * a; q1 += b * b; q2 += c * c; q3 += d * d;
        }
        for (; i < end; i++) {
            double a = x.get(i);
            s0 += a;
            q0 += a * a;
        }
        return new double[] {s0 + s1 + s2 + s3, q0 + q1 + q2 + q3};
    }

    /** {@code y[c, i] = act(x[c, i] * scale[c] + shift[c])} over {@code channels} planes of {@code plane} floats. */
    static void perChannelAffine(FloatBuffer x, FloatBuffer y, int offset, int channels, int plane, float[] scale, float[] shift,
            Op.@Nullable Activation act) {
        Parallel.forEach(channels, c -> affine(x, y, offset + c * plane, plane, scale[c], shift[c], act));
    }

    static void batchNorm(Op.BatchNorm op, Tensor x, Tensor out, Op.@Nullable Activation act) {
        Shape s = x.shape();
        int plane = s.h() * s.w();
        Parallel.forEach(s.n() * s.c(), nc -> {
            int c = nc % s.c();
            float scale = Op.inverseStd(op.runningVar().get(c), op.eps());
            affine(x.data(), out.data(), nc * plane, plane, scale, -op.runningMean().get(c) * scale, act);
        });
    }

    static void spade(Op.Spade op, Tensor x, Tensor gammaBeta, Tensor out, Op.@Nullable Activation act) {
        Shape s = x.shape();
        int c = s.c(), plane = s.h() * s.w();
        FloatBuffer in = x.data(), gb = gammaBeta.data(), y = out.data();
        Parallel.forEach(s.n() * c, nc -> {
            int n = nc / c, ch = nc % c;
            float scale = Op.inverseStd(op.runningVar().get(ch), op.eps());
            float shift = -op.runningMean().get(ch) * scale;
            int xo = nc * plane;
            int go = (n * 2 * c + ch) * plane;
            int bo = go + c * plane;
            for (int i = 0; i < plane; i++) {
                float normalized = in.get(xo + i) * scale + shift;
                float v = normalized * (1f + gb.get(go + i)) + gb.get(bo + i);
                y.put(xo + i, act == null ? v : act.apply(v));
            }
        });
    }

    private static void affine(FloatBuffer in, FloatBuffer y, int start, int count, float scale, float shift, Op.@Nullable Activation act) {
        if (act == null) {
            for (int i = start, end = start + count; i < end; i++) y.put(i, in.get(i) * scale + shift);
        } else {
            for (int i = start, end = start + count; i < end; i++) y.put(i, act.apply(in.get(i) * scale + shift));
        }
    }

    static void activation(Op.Activation op, Tensor x, Tensor out) {
        FloatBuffer in = x.data(), y = out.data();
        Parallel.forRanges(x.size(), (start, end) -> {
            for (int i = start; i < end; i++) y.put(i, op.apply(in.get(i)));
        });
    }

    /** PyTorch's nearest: source index {@code min(floor(dst * in / out), in - 1)}, computed in float. */
    static void resizeNearest(Tensor x, Tensor out) {
        Shape s = x.shape(), o = out.shape();
        int[] rowSrc = Op.ResizeNearest.sourceIndex(s.h(), o.h());
        int[] colSrc = Op.ResizeNearest.sourceIndex(s.w(), o.w());
        FloatBuffer in = x.data(), y = out.data();
        Parallel.forEach(s.n() * s.c(), nc -> {
            int src = nc * s.h() * s.w(), dst = nc * o.h() * o.w();
            for (int r = 0; r < o.h(); r++) {
                int srcRow = src + rowSrc[r] * s.w(), dstRow = dst + r * o.w();
                for (int col = 0; col < o.w(); col++) y.put(dstRow + col, in.get(srcRow + colSrc[col]));
            }
        });
    }

    /** Attention over the H*W tokens; {@code scores} is scratch of at least tokens^2 floats. */
    static void selfAttention(Tensor qkv, Tensor out, FloatBuffer scores) {
        Shape s = qkv.shape();
        int c = s.c() / 3, t = s.h() * s.w();
        for (int n = 0; n < s.n(); n++) {
            int q = n * 3 * c * t, k = q + c * t, v = k + c * t;
            // scores[i, j] = sum_c q[c, i] k[c, j] / sqrt(C)
            Blas.sgemm(true, false, t, t, c, (float) (1.0 / Math.sqrt(c)), qkv.data(), q, t, qkv.data(), k, t, 0f, scores, 0, t);
            Parallel.forEach(t, i -> softmaxRow(scores, i * t, t));
            // out[c, i] = sum_j v[c, j] scores[i, j]
            Blas.sgemm(false, true, c, t, t, 1f, qkv.data(), v, t, scores, 0, t, 0f, out.data(), n * c * t, t);
        }
    }

    static void softmaxRow(FloatBuffer a, int start, int n) {
        float max = Float.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, a.get(start + i));
        double sum = 0;
        for (int i = 0; i < n; i++) {
            float e = (float) Math.exp(a.get(start + i) - max);
            a.put(start + i, e);
            sum += e;
        }
        float inv = (float) (1.0 / sum);
        for (int i = 0; i < n; i++) a.put(start + i, a.get(start + i) * inv);
    }

    static void linear(Op.Linear op, Tensor x, Tensor out) {
        int rows = x.shape().dim(0), in = x.shape().dim(1), outF = out.shape().dim(1);
        Blas.sgemm(false, true, rows, outF, in, 1f, x.data(), 0, in, op.weight().data(), 0, in, 0f, out.data(), 0, outF);
        for (int r = 0; r < rows; r++) {
            for (int f = 0; f < outF; f++) out.set(r * outF + f, out.get(r * outF + f) + op.bias().get(f));
        }
    }

    /** DDPM's sinusoidal embedding, in float32 like the reference. */
    static void timestepEmbedding(Op.TimestepEmbedding op, Tensor t, Tensor out) {
        int half = op.dim() / 2;
        float[] frequency = op.frequencies();
        for (int n = 0; n < t.size(); n++) {
            float time = t.get(n);
            int row = n * op.dim();
            for (int i = 0; i < half; i++) {
                float arg = time * frequency[i];
                out.set(row + i, (float) Math.sin(arg));
                out.set(row + half + i, (float) Math.cos(arg));
            }
            if (op.dim() % 2 == 1) out.set(row + op.dim() - 1, 0f);
        }
    }

    static void concat(List<Tensor> parts, Tensor out) {
        Shape o = out.shape();
        int perSample = o.size() / o.n();
        int offset = 0;
        for (Tensor part : parts) {
            int partPerSample = part.size() / o.n();
            for (int n = 0; n < o.n(); n++) {
                copy(part.data().duplicate(), n * partPerSample, out.data().duplicate(), n * perSample + offset, partPerSample);
            }
            offset += partPerSample;
        }
    }

    /** Dimension-1 slice, as a copy (the executor makes a view instead where memory allows). */
    static void sliceChannels(Op.SliceChannels op, Tensor x, Tensor out) {
        Shape s = x.shape();
        int inner = s.size() / (s.dim(0) * s.dim(1));
        for (int n = 0; n < s.dim(0); n++) {
            copy(x.data().duplicate(), (n * s.dim(1) + op.start()) * inner, out.data().duplicate(), n * op.count() * inner, op.count() * inner);
        }
    }

    static void add(Tensor a, Tensor b, Tensor out, Op.@Nullable Activation act) {
        FloatBuffer x = a.data(), z = b.data(), y = out.data();
        if (a.shape().equals(b.shape())) {
            Parallel.forRanges(a.size(), (start, end) -> {
                for (int i = start; i < end; i++) {
                    float v = x.get(i) + z.get(i);
                    y.put(i, act == null ? v : act.apply(v));
                }
            });
            return;
        }
        Shape s = a.shape();
        int plane = s.h() * s.w();
        Parallel.forEach(s.n() * s.c(), nc -> {
            float bias = z.get(nc);
            for (int i = nc * plane, end = i + plane; i < end; i++) {
                float v = x.get(i) + bias;
                y.put(i, act == null ? v : act.apply(v));
            }
        });
    }

}
