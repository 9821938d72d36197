"""A fused SPADE generator (GauGAN) whose state-dict keys match Tessera's Java `Gaugan` builder.

Written for the demo from the architecture description (not copied from the reference code):
every residual block computes one shared MLP over the segmentation map (`mlp_shared.0`, ReLU),
whose output is split into the hidden maps of its two (or three) SPADE layers; each SPADE layer
normalises with a parameter-free BatchNorm and modulates with gamma/beta from one 3x3 conv
(`mlp_gamma_beta`).
"""
import torch
from torch import nn
from torch.nn import functional as F

UPSAMPLING_LAYERS = {"normal": 5, "more": 6, "most": 7}


def conv3(cin, cout):
    return nn.Conv2d(cin, cout, 3, padding=1)


class Spade(nn.Module):
    def __init__(self, channels, hidden):
        super().__init__()
        self.channels = channels
        self.param_free_norm = nn.BatchNorm2d(channels, affine=False)  # eps 1e-5, as the Java engine
        self.mlp_gamma_beta = conv3(hidden, 2 * channels)

    def forward(self, x, actv):
        gamma, beta = self.mlp_gamma_beta(actv).split(self.channels, dim=1)
        return self.param_free_norm(x) * (1 + gamma) + beta


class SpadeBlock(nn.Module):
    def __init__(self, fin, fout, semantic_nc, hidden):
        super().__init__()
        self.hidden = hidden
        self.learned_shortcut = fin != fout
        mid = min(fin, fout)
        stages = 3 if self.learned_shortcut else 2
        self.mlp_shared = nn.Sequential(conv3(semantic_nc, stages * hidden), nn.ReLU())
        self.norm_0, self.conv_0 = Spade(fin, hidden), conv3(fin, mid)
        self.norm_1, self.conv_1 = Spade(mid, hidden), conv3(mid, fout)
        if self.learned_shortcut:
            self.norm_s = Spade(fin, hidden)
            self.conv_s = nn.Conv2d(fin, fout, 1, bias=False)

    def forward(self, x, seg):
        actv = self.mlp_shared(F.interpolate(seg, size=x.shape[2:], mode="nearest"))
        parts = actv.split(self.hidden, dim=1)  # actv_0, actv_1[, actv_s]
        skip = self.conv_s(self.norm_s(x, parts[2])) if self.learned_shortcut else x
        dx = self.conv_0(F.leaky_relu(self.norm_0(x, parts[0]), 0.2))
        dx = self.conv_1(F.leaky_relu(self.norm_1(dx, parts[1]), 0.2))
        return skip + dx


class Generator(nn.Module):
    def __init__(self, ngf, semantic_nc, crop_size, aspect_ratio, num_upsampling_layers="more"):
        super().__init__()
        self.layers = UPSAMPLING_LAYERS[num_upsampling_layers]
        self.latent_w = crop_size >> self.layers
        self.latent_h = round(self.latent_w / aspect_ratio)
        nf, hidden = ngf, 2 * ngf
        self.fc = conv3(semantic_nc, 16 * nf)
        self.head_0 = SpadeBlock(16 * nf, 16 * nf, semantic_nc, hidden)
        self.G_middle_0 = SpadeBlock(16 * nf, 16 * nf, semantic_nc, hidden)
        self.G_middle_1 = SpadeBlock(16 * nf, 16 * nf, semantic_nc, hidden)
        widths = [16 * nf, 8 * nf, 4 * nf, 2 * nf, nf, nf // 2]
        self.num_up = 5 if self.layers == 7 else 4
        for i in range(self.num_up):
            setattr(self, f"up_{i}", SpadeBlock(widths[i], widths[i + 1], semantic_nc, hidden))
        self.conv_img = conv3(widths[self.num_up], 3)

    @property
    def output_size(self):
        return self.latent_h << self.layers, self.latent_w << self.layers

    def forward(self, seg):
        up = lambda t: F.interpolate(t, scale_factor=2, mode="nearest")
        x = self.fc(F.interpolate(seg, size=(self.latent_h, self.latent_w), mode="nearest"))
        x = self.head_0(x, seg)
        x = self.G_middle_0(up(x), seg)
        if self.layers >= 6:
            x = up(x)
        x = self.G_middle_1(x, seg)
        for i in range(self.num_up):
            x = getattr(self, f"up_{i}")(up(x), seg)
        return torch.tanh(self.conv_img(F.leaky_relu(x, 0.2)))


def count_macs(model, seg):
    """Multiply-accumulates of the convolutions (what dominates), counted with forward hooks."""
    total = [0]

    def hook(m, inp, out):
        total[0] += out.numel() // out.shape[0] * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    handles = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        model.eval()(seg)
    for h in handles:
        h.remove()
    return total[0]
