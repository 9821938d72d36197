package dev.tessera.runtime.models;

import dev.tessera.runtime.Golden;
import dev.tessera.runtime.cpu.CpuExecutor;
import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.io.SafetensorsFile;
import dev.tessera.runtime.tensor.Shape;
import dev.tessera.runtime.tensor.Tensor;
import org.junit.jupiter.api.Test;

/** Dense outputs of the CPU backend against the reference's dense outputs (golden cases). */
class DenseConformanceTest {

    @Test
    void convMatchesReference() {
        try (SafetensorsFile w = Golden.weights("conv"); SafetensorsFile c = Golden.tensors("conv")) {
            GraphBuilder g = new GraphBuilder(w);
            Value x = g.input(Shape.nchw(1, 16, 64, 64));
            ModelGraph graph = g.build("conv", g.conv("example_module.conv", x, 32, 3));
            CpuExecutor exec = new CpuExecutor(graph);
            Golden.assertMatches("conv full_original", c.tensor("full_original"), exec.run(c.tensor("original")));
            Golden.assertMatches("conv dense_edited", c.tensor("dense_edited"), exec.run(c.tensor("edited")));
        }
    }

    @Test
    void gauganMatchesReference() {
        try (SafetensorsFile w = Golden.weights("gaugan"); SafetensorsFile c = Golden.tensors("gaugan")) {
            CpuExecutor exec = new CpuExecutor(Gaugan.build(ModelsForTests.GOLDEN_GAUGAN, w));
            Golden.assertMatches("gaugan full_original", c.tensor("full_original"), exec.run(c.tensor("semantics_original")));
            Golden.assertMatches("gaugan dense_edited", c.tensor("dense_edited"), exec.run(c.tensor("semantics_edited")));
        }
    }

    @Test
    void ddpmMatchesReference() {
        try (SafetensorsFile w = Golden.weights("ddpm"); SafetensorsFile c = Golden.tensors("ddpm")) {
            CpuExecutor exec = new CpuExecutor(DdpmUnet.build(ModelsForTests.GOLDEN_DDPM, w));
            Tensor t = c.tensor("timestep");
            Golden.assertMatches("ddpm full_original", c.tensor("full_original"), exec.run(c.tensor("xt_original"), t));
            Golden.assertMatches("ddpm dense_edited", c.tensor("dense_edited"), exec.run(c.tensor("xt_edited"), t));
        }
    }
}
