package dev.tessera.runtime.models;

import dev.tessera.runtime.graph.GraphBuilder;
import dev.tessera.runtime.graph.ModelGraph;
import dev.tessera.runtime.graph.Op;
import dev.tessera.runtime.graph.Op.Activation;
import dev.tessera.runtime.graph.Op.Padding;
import dev.tessera.runtime.graph.Value;
import dev.tessera.runtime.io.WeightSource;
import dev.tessera.runtime.tensor.Shape;
import java.util.ArrayDeque;
import java.util.Deque;

/**
 * The DDPM UNet in the reference's fused form: the per-block timestep projections are one linear
 * layer ({@code temb.dense.2}) whose output each res block slices, and q, k, v are one 1x1 conv.
 * Inputs: x [1, inChannels, R, R] and the timestep [1]; output: predicted noise.
 */
public final class DdpmUnet {
    private static final Activation SILU = Activation.of(Activation.Kind.SILU);

    private final DdpmConfig config;
    private final GraphBuilder g;
    private Value temb;
    private int tembOffset;

    private DdpmUnet(DdpmConfig config, WeightSource weights) {
        this.config = config;
        this.g = new GraphBuilder(weights);
    }

    public static ModelGraph build(DdpmConfig config, WeightSource weights) {
        return new DdpmUnet(config, weights).forward();
    }

    private ModelGraph forward() {
        int ch = config.ch();
        int levels = config.chMult().size();
        Value x = g.input(Shape.nchw(1, config.inChannels(), config.resolution(), config.resolution()));
        Value t = g.input(Shape.of(1));

        Value e = g.add("temb.embedding", new Op.TimestepEmbedding(ch), t);
        e = g.activation("temb.act0", g.linear("temb.dense.0", e, 4 * ch), SILU);
        e = g.activation("temb.act1", g.linear("temb.dense.1", e, 4 * ch), SILU);
        temb = g.linear("temb.dense.2", e, tembProjDim());

        Deque<Value> hs = new ArrayDeque<>();
        hs.push(g.conv("conv_in", x, ch, 3));
        int res = config.resolution();
        for (int level = 0; level < levels; level++) {
            int out = ch * config.chMult().get(level);
            for (int b = 0; b < config.numResBlocks(); b++) {
                String key = "down." + level;
                Value h = resBlock(key + ".block." + b, hs.peek(), out);
                if (config.attnResolutions().contains(res)) h = attnBlock(key + ".attn." + b, h);
                hs.push(h);
            }
            if (level != levels - 1) {
                // The reference pads right and bottom by one, then convolves 3x3 with stride 2.
                hs.push(g.conv("down." + level + ".downsample.conv", hs.peek(), out, 3, 2, new Padding(0, 0, 1, 1), true));
                res /= 2;
            }
        }

        Value h = hs.peek();
        int mid = h.shape().c();
        h = resBlock("mid.block_1", h, mid);
        h = attnBlock("mid.attn_1", h);
        h = resBlock("mid.block_2", h, mid);

        for (int level = levels - 1; level >= 0; level--) {
            int out = ch * config.chMult().get(level);
            for (int b = 0; b <= config.numResBlocks(); b++) {
                String key = "up." + level;
                h = resBlock(key + ".block." + b, g.concat(key + ".cat." + b, h, hs.pop()), out);
                if (config.attnResolutions().contains(res)) h = attnBlock(key + ".attn." + b, h);
            }
            if (level != 0) {
                h = g.upsample2x("up." + level + ".upsample.interpolate", h);
                h = g.conv("up." + level + ".upsample.conv", h, out, 3);
                res *= 2;
            }
        }
        h = g.activation("norm_out.act", g.groupNorm("norm_out", h, DdpmConfig.GROUPS, DdpmConfig.GROUP_NORM_EPS), SILU);
        h = g.conv("conv_out", h, config.outChannels(), 3);
        return g.build("ddpm", h);
    }

    /** Sum of all res blocks' output channels: the width of the fused timestep projection. */
    private int tembProjDim() {
        int ch = config.ch();
        int total = 0;
        for (int m : config.chMult()) total += config.numResBlocks() * ch * m; // down
        total += 2 * ch * config.chMult().get(config.chMult().size() - 1); // mid
        for (int m : config.chMult()) total += (config.numResBlocks() + 1) * ch * m; // up
        return total;
    }

    private Value resBlock(String key, Value x, int out) {
        int in = x.shape().c();
        // The shortcut and the timestep projection come before the convs whose outputs they are
        // added to, so that those adds can run inside the convs (DenseSchedule's fused adds).
        Value shortcut = in == out ? x : g.conv(key + ".nin_shortcut", x, out, 1);
        Value tembProj = g.slice(key + ".temb_proj", temb, tembOffset, out);
        tembOffset += out;
        Value h = g.groupNorm(key + ".norm1", x, DdpmConfig.GROUPS, DdpmConfig.GROUP_NORM_EPS);
        h = g.conv(key + ".conv1", g.activation(key + ".act1", h, SILU), out, 3);
        h = g.sum(key + ".temb", h, tembProj);
        h = g.groupNorm(key + ".norm2", h, DdpmConfig.GROUPS, DdpmConfig.GROUP_NORM_EPS);
        h = g.conv(key + ".conv2", g.activation(key + ".act2", h, SILU), out, 3);
        return g.sum(key, shortcut, h);
    }

    private Value attnBlock(String key, Value x) {
        int c = x.shape().c();
        Value h = g.groupNorm(key + ".norm", x, DdpmConfig.GROUPS, DdpmConfig.GROUP_NORM_EPS);
        h = g.conv(key + ".qkv", h, 3 * c, 1);
        h = g.add(key + ".attention", new Op.SelfAttention(), h);
        h = g.conv(key + ".proj_out", h, c, 1);
        return g.sum(key, x, h);
    }
}
