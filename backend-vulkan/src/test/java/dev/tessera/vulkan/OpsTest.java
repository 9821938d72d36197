package dev.tessera.vulkan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.tessera.runtime.backend.DeviceModel;
import dev.tessera.runtime.backend.GraphExecutor;
import dev.tessera.runtime.cpu.CpuBackendProvider;
import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.io.RandomWeights;
import dev.tessera.runtime.sparse.ActivationCache;
import dev.tessera.runtime.sparse.SparsePlanner;
import dev.tessera.runtime.sparse.SparsePolicy;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import dev.tessera.vulkan.lwjgl.LwjglDevice;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Each op the kernels implement, as a one- or two-node graph with random weights and inputs, dense
 * on the Vulkan device against the CPU backend: shapes the golden cases do not reach (odd sizes,
 * stride 2 with asymmetric padding, batches of two, non-integer resize ratios).
 */
class OpsTest {
    private static final RandomWeights WEIGHTS = new RandomWeights(7);

    @BeforeAll
    static void needsVulkan() {
        String why = new VulkanBackendProvider().unavailableReason();
        assumeTrue(why == null, () -> "no Vulkan: " + why);
    }

    @Test
    void convolutions() {
        check("3x3 stride 1 same padding, bias", Shape.nchw(1, 5, 9, 11), (g, x) -> g.conv("c", x, 7, 3));
        check("3x3 stride 2, padding bottom and right only", Shape.nchw(2, 20, 10, 13),
                (g, x) -> g.conv("c", x, 70, 3, 2, new Op.Padding(0, 0, 1, 1), true));
        check("1x1 without bias, over 64 output channels", Shape.nchw(1, 33, 6, 7), (g, x) -> g.conv("c", x, 65, 1, 1, Op.Padding.same(0), false));
        check("fused leaky ReLU", Shape.nchw(1, 4, 8, 8), (g, x) -> g.activation("a", g.conv("c", x, 4, 3), Op.Activation.leakyRelu(0.2f)));
        check("3x3 as Winograd F(2x2, 3x3), 256 windows, padding", Shape.nchw(1, 32, 32, 32),
                (g, x) -> g.activation("a", g.conv("c", x, 40, 3), Op.Activation.of(Op.Activation.Kind.SILU)));
        check("3x3 on 64 pixels (128 x 32 blocks), 260 output channels", Shape.nchw(1, 24, 8, 8), (g, x) -> g.conv("c", x, 260, 3));
        // Winograd's float32 products would span 160 MiB, more than lavapipe's (and many phones') largest binding of 128 MiB.
        check("3x3 whose Winograd products exceed one binding on lavapipe", Shape.nchw(1, 16, 256, 512), (g, x) -> g.conv("c", x, 80, 3));
    }

    @Test
    void normalizations() {
        check("group norm with fused SiLU", Shape.nchw(2, 8, 5, 6),
                (g, x) -> g.activation("a", g.groupNorm("gn", x, 4, 1e-5f), Op.Activation.of(Op.Activation.Kind.SILU)));
        check("group norm of groups summed in 5 parts", Shape.nchw(1, 8, 96, 96), (g, x) -> g.groupNorm("gn", x, 2, 1e-5f));
        check("batch norm", Shape.nchw(1, 3, 4, 5), (g, x) -> g.add("bn", new Op.BatchNorm(g.weight("bn.running_mean", 3),
                g.weight("bn.running_var", 3), 1e-5f), x));
        check("SPADE with fused ReLU", Shape.nchw(1, 6, 4, 4), (g, x) -> {
            Value gb = g.conv("gb", x, 12, 3);
            Value s = g.add("spade", new Op.Spade(g.weight("s.running_mean", 6), g.weight("s.running_var", 6), 1e-5f), x, gb);
            return g.activation("a", s, Op.Activation.of(Op.Activation.Kind.RELU));
        });
    }

    @Test
    void pointwise() {
        check("tanh", Shape.nchw(1, 2, 3, 50), (g, x) -> g.activation("t", g.conv("c", x, 2, 1), Op.Activation.of(Op.Activation.Kind.TANH)));
        check("add, concat, slice", Shape.nchw(2, 4, 3, 3), (g, x) -> {
            Value y = g.conv("c", x, 4, 3);
            Value both = g.concat("cat", g.sum("sum", x, y), x);
            return g.slice("slice", both, 2, 5);
        });
    }

    @Test
    void perChannelAdd() { // DDPM's timestep projection, added to every pixel of its channel
        GraphBuilder g = new GraphBuilder(WEIGHTS);
        Value x = g.input(Shape.nchw(1, 6, 4, 5)), t = g.input(Shape.of(1));
        Value projection = g.linear("l", g.add("emb", new Op.TimestepEmbedding(8), t), 6);
        compare("per-channel add", g.build("add", g.sum("add", x, projection)), random(x.shape(), 3),
                Tensor.of(Shape.of(1), new float[] {250}));
    }

    @Test
    void resizes() {
        check("nearest 2x", Shape.nchw(1, 3, 4, 5), (g, x) -> g.upsample2x("up", x));
        check("nearest 5x7 to 8x12", Shape.nchw(1, 2, 5, 7), (g, x) -> g.resize("r", x, 8, 12));
    }

    @Test
    void attentionAndLinear() {
        check("self-attention over 70 tokens", Shape.nchw(2, 24, 7, 10), (g, x) -> g.add("attn", new Op.SelfAttention(), x));
        check("self-attention over 256 tokens", Shape.nchw(1, 192, 16, 16), (g, x) -> g.add("attn", new Op.SelfAttention(), x));
        check("linear", Shape.of(3, 130), (g, x) -> g.linear("l", x, 67));
    }

    @Test
    void timestepEmbedding() {
        GraphBuilder g = new GraphBuilder(WEIGHTS);
        Value t = g.input(Shape.of(2));
        ModelGraph graph = g.build("embedding", g.add("emb", new Op.TimestepEmbedding(33), t));
        compare("timestep embedding", graph, Tensor.of(Shape.of(2), new float[] {999, 17}));
    }

    /** The conv kernel in each block shape (timed convs choose among them on a GPU), with and without K split. */
    @Test
    void convsInEveryBlockShape() {
        for (Kernel.GemmShape shape : Kernel.GemmShape.values()) {
            if (shape.kernel() != Kernel.CONV2D) continue; // tensor cores: float16Winograd
            System.setProperty("tessera.vulkan.convShape", shape.name());
            try {
                check("3x3, K split, in " + shape, Shape.nchw(1, 24, 8, 8), (g, x) -> g.conv("c", x, 40, 3));
                check("3x3 stride 2 to 9 channels in " + shape, Shape.nchw(1, 5, 19, 23),
                        (g, x) -> g.conv("c", x, 9, 3, 2, new Op.Padding(0, 0, 1, 1), true));
            } finally {
                System.clearProperty("tessera.vulkan.convShape");
            }
        }
    }

    /** Winograd F(2x2, 3x3) and F(4x4, 3x3) with the product in each block shape. */
    @Test
    void winogradInEveryBlockShape() {
        try {
            for (Kernel.GemmShape shape : Kernel.GemmShape.values()) {
                if (shape.kernel() != Kernel.CONV2D) continue;
                System.setProperty("tessera.vulkan.convShape", shape.name());
                System.setProperty("tessera.vulkan.convWinograd", "2");
                check("Winograd F(2x2), padding, in " + shape, Shape.nchw(1, 32, 10, 14), (g, x) -> g.conv("c", x, 40, 3));
                System.setProperty("tessera.vulkan.convWinograd", "4");
                check("Winograd F(4x4), padding, in " + shape, Shape.nchw(1, 32, 12, 16), (g, x) -> g.conv("c", x, 40, 3));
            }
        } finally {
            System.clearProperty("tessera.vulkan.convWinograd");
            System.clearProperty("tessera.vulkan.convShape");
        }
    }

    /**
     * float16 Winograd against the float32 conv on the same device (checked against the CPU above),
     * so that it runs without the CPU backend: its product on the shader cores, or on tensor cores
     * in each shape the device has (gemm_tensor's, also as F(4x4, 3x3), with input channels and a
     * product that fill no whole block, which its clamped loads and stores must handle).
     */
    @Test
    void float16Winograd() {
        List<Kernel.GemmShape> shapes = new ArrayList<>();
        try (LwjglDevice device = LwjglDevice.open()) {
            assumeTrue(device.float16(), "no float16 maps on " + device.name());
            if (!device.tensorCores()) shapes.add(Kernel.GemmShape.ROWS_64);
            for (Kernel.GemmShape shape : Kernel.GemmShape.values()) {
                if (device.tensorCores() && shape.cooperative() || device.tensorAddressing() && shape.kernel() == Kernel.GEMM_TENSOR) {
                    shapes.add(shape);
                }
            }
        }
        for (Kernel.GemmShape shape : shapes) {
            boolean tensor = shape.kernel() == Kernel.GEMM_TENSOR;
            for (int tile : tensor ? new int[] {2, 4} : new int[] {2}) {
                GraphBuilder g = new GraphBuilder(WEIGHTS);
                Value x = g.input(Shape.nchw(1, tensor ? 40 : 64, 12, 20));
                ModelGraph graph = g.build("winograd", g.conv("c", x, 48, 3));
                Tensor in = random(x.shape(), 11);
                Tensor expected = dense(new VulkanBackendProvider()::load, graph, ActivationCache.Precision.FP32, in);
                System.setProperty("tessera.vulkan.convWinograd", String.valueOf(tile));
                System.setProperty("tessera.vulkan.convShape", shape.name());
                try {
                    Tensor actual = dense(new VulkanBackendProvider()::load, graph, ActivationCache.Precision.FP16, in);
                    double err = actual.maxAbsDifference(expected), ref = expected.maxAbs();
                    String label = "float16 Winograd F(" + tile + "x" + tile + ") in " + shape;
                    System.out.printf("%-50s max|err| %.2e  max|ref| %.2e%n", label, err, ref);
                    // F(4x4)'s transforms (B^T up to 5, A^T up to 8) amplify the float16 rounding of the
                    // stored transformed inputs and products: 8.1e-3 of max |ref| on the H100.
                    double tolerance = tile == 2 ? 5e-3 : 1.5e-2;
                    assertTrue(err <= tolerance * ref, label + ": max |err| " + err + " against max |ref| " + ref);
                } finally {
                    System.clearProperty("tessera.vulkan.convWinograd");
                    System.clearProperty("tessera.vulkan.convShape");
                }
            }
        }
    }

    private interface Model {
        Value build(GraphBuilder g, Value x);
    }

    private static void check(String label, Shape input, Model model) {
        GraphBuilder g = new GraphBuilder(WEIGHTS);
        Value x = g.input(input);
        compare(label, g.build(label, model.build(g, x)), random(input, label.hashCode()));
    }

    private static Tensor random(Shape shape, long seed) {
        Tensor t = Tensor.zeros(shape);
        SplittableRandom random = new SplittableRandom(seed);
        for (int i = 0; i < t.size(); i++) t.set(i, (float) random.nextDouble(-2, 2));
        return t;
    }

    private static void compare(String label, ModelGraph graph, Tensor... inputs) {
        Tensor expected = dense(new CpuBackendProvider()::load, graph, inputs);
        Tensor actual = dense(new VulkanBackendProvider()::load, graph, inputs);
        assertEquals(expected.shape(), actual.shape(), label);
        double err = actual.maxAbsDifference(expected), ref = expected.maxAbs();
        System.out.printf("%-50s max|err| %.2e  max|ref| %.2e%n", label, err, ref);
        assertTrue(err <= 1e-5 * ref, label + ": max |err| " + err + " against max |ref| " + ref);
    }

    private static Tensor dense(Loader backend, ModelGraph graph, Tensor... inputs) {
        return dense(backend, graph, ActivationCache.Precision.FP32, inputs);
    }

    private static Tensor dense(Loader backend, ModelGraph graph, ActivationCache.Precision precision, Tensor... inputs) {
        try (DeviceModel model = backend.load(graph, precision);
                GraphExecutor exec = model.newExecutor(new SparsePlanner(graph, SparsePolicy.of(Integer.MAX_VALUE), 0))) {
            return exec.dense(inputs);
        }
    }

    private interface Loader {
        DeviceModel load(ModelGraph graph, ActivationCache.Precision precision);
    }
}
