package dev.tessera.runtime.graph;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.tessera.runtime.cpu.CpuExecutor;
import dev.tessera.runtime.io.RandomWeights;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** Which adds the dense schedule runs inside the conv producing one of their inputs, and that doing so changes no result. */
class DenseScheduleTest {
    private static final Shape X = Shape.nchw(1, 4, 6, 6);

    /** The node named {@code name}'s index. */
    private static int index(ModelGraph g, String name) {
        for (int i = 0; i < g.nodes().size(); i++) {
            if (g.nodes().get(i).name().equals(name)) return i;
        }
        throw new IllegalArgumentException(name);
    }

    @Test
    void anAddRunsInsideTheLaterOfTwoConvs() {
        GraphBuilder b = new GraphBuilder(new RandomWeights(1));
        Value x = b.input(X);
        Value h = b.conv("h", x, 4, 3);
        Value s = b.conv("s", x, 4, 1); // computed after h: the add runs inside s, starting from h
        ModelGraph g = b.build("t", b.sum("y", h, s));
        DenseSchedule schedule = new DenseSchedule(g, new boolean[g.valueCount()]);
        int y = index(g, "y");
        assertNull(schedule.fusedAddNode(index(g, "h")));
        assertSame(g.nodes().get(y), schedule.fusedAddNode(index(g, "s")));
        assertTrue(schedule.isAlias(y));
        assertSame(s, schedule.aliased(y));
        assertSame(h, DenseSchedule.addend(g.nodes().get(y), g.nodes().get(index(g, "s"))));
        assertSameResults(g);
    }

    @Test
    void aPerChannelAddRunsInsideItsConv() {
        GraphBuilder b = new GraphBuilder(new RandomWeights(2));
        Value x = b.input(X);
        Value t = b.input(Shape.of(1, 4));
        ModelGraph g = b.build("t", b.sum("y", b.conv("h", x, 4, 3), t));
        DenseSchedule schedule = new DenseSchedule(g, new boolean[g.valueCount()]);
        assertSame(g.nodes().get(index(g, "y")), schedule.fusedAddNode(index(g, "h")));
        assertSameResults(g);
    }

    @Test
    void noAddRunsInsideAConvWhoseOutputIsReadTwiceOrCachedOrWhoseAddendComesLater() {
        GraphBuilder b = new GraphBuilder(new RandomWeights(3));
        Value x = b.input(X);
        Value twice = b.conv("twice", x, 4, 3);
        Value y = b.sum("y", twice, x);
        Value cached = b.conv("cached", y, 4, 3);
        Value z = b.sum("z", cached, twice);
        ModelGraph g = b.build("t", z);
        boolean[] observed = new boolean[g.valueCount()];
        observed[cached.id()] = true;
        DenseSchedule schedule = new DenseSchedule(g, observed);
        for (int i = 0; i < g.nodes().size(); i++) assertNull(schedule.fusedAddNode(i), g.nodes().get(i).name());
        assertEquals(0, java.util.stream.IntStream.range(0, g.nodes().size()).filter(schedule::isAlias).count());
    }

    /** The graph on random inputs with every add fused where the schedule allows, and with none (all values observed). */
    private static void assertSameResults(ModelGraph g) {
        Random random = new Random(5);
        Tensor[] inputs = new Tensor[g.inputs().size()];
        for (int i = 0; i < inputs.length; i++) {
            Shape shape = g.inputs().get(i).shape();
            float[] v = new float[shape.size()];
            for (int k = 0; k < v.length; k++) v[k] = random.nextFloat() - 0.5f;
            inputs[i] = Tensor.of(shape, v);
        }
        boolean[] all = new boolean[g.valueCount()];
        java.util.Arrays.fill(all, true);
        float[] fused = new CpuExecutor(g).run(inputs).toArray(), plain = new CpuExecutor(g, all).run(inputs).toArray();
        assertArrayEquals(plain, fused, 1e-6f);
    }
}
