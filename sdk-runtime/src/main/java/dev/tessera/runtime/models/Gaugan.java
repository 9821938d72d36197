package dev.tessera.runtime.models;

import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Op.Activation;
import dev.tessera.runtime.graph.Op.Padding;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.io.WeightSource;
import dev.tessera.runtime.tensor.Shape;

/**
 * GauGAN's SPADE generator in the reference's fused form (one {@code mlp_shared} conv per residual
 * block, {@code mlp_gamma_beta} per SPADE), with the reference's state-dict keys. Input: the
 * semantic map [1, semanticNc, H, W] (one-hot labels and instance edges); output: RGB in [-1, 1].
 */
public final class Gaugan {
    private static final Activation LEAKY = Activation.leakyRelu(0.2f);

    private final GauganConfig config;
    private final GraphBuilder g;
    private Value seg;

    private Gaugan(GauganConfig config, WeightSource weights) {
        this.config = config;
        this.g = new GraphBuilder(weights);
    }

    public static ModelGraph build(GauganConfig config, WeightSource weights) {
        return new Gaugan(config, weights).forward();
    }

    private ModelGraph forward() {
        int nf = config.ngf();
        seg = g.input(Shape.nchw(1, config.semanticNc(), config.outputHeight(), config.outputWidth()));
        Value x = g.resize("downsample_seg", seg, config.latentHeight(), config.latentWidth());
        x = g.conv("fc", x, 16 * nf, 3);
        x = block("head_0", x, 16 * nf, 16 * nf);
        x = g.upsample2x("up", x);
        x = block("G_middle_0", x, 16 * nf, 16 * nf);
        if (config.upsamplingLayers() >= 6) x = g.upsample2x("up", x);
        x = block("G_middle_1", x, 16 * nf, 16 * nf);
        int[] widths = {16 * nf, 8 * nf, 4 * nf, 2 * nf, nf, nf / 2};
        int ups = config.upsamplingLayers() == 7 ? 5 : 4;
        for (int i = 0; i < ups; i++) {
            x = g.upsample2x("up", x);
            x = block("up_" + i, x, widths[i], widths[i + 1]);
        }
        x = g.activation("actvn", x, LEAKY);
        x = g.conv("conv_img", x, 3, 3);
        x = g.activation("tanh", x, Activation.of(Activation.Kind.TANH));
        return g.build("gaugan", x);
    }

    /** FusedSPADEResnetBlock: shared SPADE MLP, two SPADE-conv stages, learned 1x1 shortcut if fin != fout. */
    private Value block(String key, Value x, int fin, int fout) {
        int hidden = 2 * config.ngf();
        boolean learnedShortcut = fin != fout;
        int fmiddle = Math.min(fin, fout);

        Value segHere = g.resize(key + ".seg", seg, x.shape().h(), x.shape().w());
        Value actvs = g.conv(key + ".mlp_shared.0", segHere, hidden * (learnedShortcut ? 3 : 2), 3);
        actvs = g.activation(key + ".mlp_shared.1", actvs, Activation.of(Activation.Kind.RELU));

        Value shortcut = x;
        if (learnedShortcut) {
            Value actvS = g.slice(key + ".actv_s", actvs, 2 * hidden, hidden);
            Value normed = spade(key + ".norm_s", x, actvS);
            shortcut = g.conv(key + ".conv_s", normed, fout, 1, 1, Padding.same(0), false);
        }
        Value dx = spade(key + ".norm_0", x, g.slice(key + ".actv_0", actvs, 0, hidden));
        dx = g.conv(key + ".conv_0", g.activation(key + ".actvn_0", dx, LEAKY), fmiddle, 3);
        dx = spade(key + ".norm_1", dx, g.slice(key + ".actv_1", actvs, hidden, hidden));
        dx = g.conv(key + ".conv_1", g.activation(key + ".actvn_1", dx, LEAKY), fout, 3);
        return g.sum(key, shortcut, dx);
    }

    private Value spade(String key, Value x, Value actv) {
        int c = x.shape().c();
        Value gammaBeta = g.conv(key + ".mlp_gamma_beta", actv, 2 * c, 3);
        Op.Spade op = new Op.Spade(g.weight(key + ".param_free_norm.running_mean", c),
                g.weight(key + ".param_free_norm.running_var", c), GauganConfig.BATCH_NORM_EPS);
        return g.add(key, op, x, gammaBeta);
    }
}
