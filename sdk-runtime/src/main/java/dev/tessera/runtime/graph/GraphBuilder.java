package dev.tessera.runtime.graph;

import dev.tessera.runtime.graph.Op.Activation;
import dev.tessera.runtime.graph.Op.Padding;
import dev.tessera.runtime.io.WeightSource;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.stream.Collectors;

/**
 * Builds a {@link ModelGraph} the way a PyTorch {@code forward} reads: each call adds one node,
 * infers its shape, and takes its parameters from the weight source under the module's key.
 */
public final class GraphBuilder {
    private final WeightSource weights;
    private final List<Value> inputs = new ArrayList<>();
    private final List<Node> nodes = new ArrayList<>();
    private int nextId;

    public GraphBuilder(WeightSource weights) {
        this.weights = weights;
    }

    public Value input(Shape shape) {
        Value v = new Value(nextId++, shape);
        inputs.add(v);
        return v;
    }

    public Value add(String name, Op op, Value... in) {
        List<Value> args = Collections.unmodifiableList(Arrays.asList(in.clone()));
        Shape shape = op.outputShape(args.stream().map(Value::shape).collect(Collectors.toList()));
        Value out = new Value(nextId++, shape);
        nodes.add(new Node(name, op, args, out));
        return out;
    }

    public ModelGraph build(String name, Value output) {
        return new ModelGraph(name, inputs, nodes, output);
    }

    /** The parameter {@code key} with the given shape. */
    public Tensor weight(String key, int... dims) {
        return weights.tensor(key, Shape.of(dims));
    }

    /** Conv module {@code key} ({@code key.weight}, {@code key.bias} if {@code bias}). */
    public Value conv(String key, Value x, int outChannels, int kernel, int stride, Padding padding, boolean bias) {
        Tensor w = weight(key + ".weight", outChannels, x.shape().c(), kernel, kernel);
        Tensor b = bias ? weight(key + ".bias", outChannels) : null;
        return add(key, new Op.Conv2d(w, b, stride, padding), x);
    }

    /** The common case: stride 1, "same" padding, with bias. */
    public Value conv(String key, Value x, int outChannels, int kernel) {
        return conv(key, x, outChannels, kernel, 1, Padding.same(kernel / 2), true);
    }

    public Value linear(String key, Value x, int outFeatures) {
        int in = x.shape().dim(1);
        return add(key, new Op.Linear(weight(key + ".weight", outFeatures, in), weight(key + ".bias", outFeatures)), x);
    }

    public Value groupNorm(String key, Value x, int groups, float eps) {
        int c = x.shape().c();
        return add(key, new Op.GroupNorm(groups, eps, weight(key + ".weight", c), weight(key + ".bias", c)), x);
    }

    public Value activation(String name, Value x, Activation act) {
        return add(name, act, x);
    }

    public Value resize(String name, Value x, int height, int width) {
        return add(name, new Op.ResizeNearest(height, width), x);
    }

    public Value upsample2x(String name, Value x) {
        return resize(name, x, 2 * x.shape().h(), 2 * x.shape().w());
    }

    public Value slice(String name, Value x, int start, int count) {
        return add(name, new Op.SliceChannels(start, count), x);
    }

    public Value sum(String name, Value a, Value b) {
        return add(name, new Op.Add(), a, b);
    }

    public Value concat(String name, Value... parts) {
        return add(name, new Op.Concat(), parts);
    }
}
