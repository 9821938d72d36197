"""Procedural outdoor scenes for the demo GauGAN: label map, instance map and a textured RGB image.

Everything is batched torch code, so scenes are made on the GPU next to the model. Layouts come
from a seeded torch.Generator (CPU), so a seed fixes a batch exactly.

Textures are deterministic functions of the class, the pixel position (periodic tiles with
power-of-two periods, which the generator's nearest-upsampling pyramid can express, plus a fixed
low-frequency cloud field) and the distance to the object's outline (window margins, tree
shading, the road's edge line). With no noise input and a regression loss, random textures would
average out to flat colours; these can be learnt.
"""
import math

import torch
from torch.nn import functional as F

CLASSES = ["sky", "tree", "road", "building", "grass", "water"]
SKY, TREE, ROAD, BUILDING, GRASS, WATER = range(6)
# display colours of the label map (RGB)
COLORS = [(90, 170, 250), (20, 110, 30), (128, 64, 128), (190, 110, 70), (150, 230, 90), (20, 70, 200)]
DESIGN_H, DESIGN_W = 256, 512  # sizes below are in pixels of this canvas; other sizes scale them


def instance_edges(inst):
    """1 where a pixel's instance id differs from one of its 4 neighbours (as Tessera's SemanticMap)."""
    e = torch.zeros_like(inst, dtype=torch.bool)
    dx = inst[..., :, 1:] != inst[..., :, :-1]
    dy = inst[..., 1:, :] != inst[..., :-1, :]
    e[..., :, 1:] |= dx
    e[..., :, :-1] |= dx
    e[..., 1:, :] |= dy
    e[..., :-1, :] |= dy
    return e


def semantic_input(labels, inst, num_classes=len(CLASSES)):
    """[B,H,W] label and instance maps -> [B, classes+1, H, W] one-hot plus instance edges."""
    onehot = F.one_hot(labels.long(), num_classes).permute(0, 3, 1, 2).float()
    return torch.cat([onehot, instance_edges(inst)[:, None].float()], 1)


def colorize(labels):
    """[B,H,W] labels -> [B,3,H,W] display colours in [0,1]."""
    pal = torch.tensor(COLORS, dtype=torch.float32, device=labels.device) / 255
    return pal[labels.long()].permute(0, 3, 1, 2)


def interior_distance(inst, k_max=7):
    """Chebyshev distance (capped at k_max) from each pixel to the nearest pixel of another instance."""
    x = inst[:, None].float()
    d = torch.zeros_like(x)
    for k in range(1, k_max + 1):
        hi = F.max_pool2d(x, 2 * k + 1, 1, k)
        lo = -F.max_pool2d(-x, 2 * k + 1, 1, k)
        d += (hi == lo).float()
    return d[:, 0]


def _shift_down(mask, n):
    return F.pad(mask, (0, 0, n, 0))[..., : mask.shape[-2], :]


class Textures:
    """Fixed per-class colour fields for one image size, and the compositing of a scene."""

    def __init__(self, h, w, device, seed=7):
        g = torch.Generator().manual_seed(seed)
        s = w / DESIGN_W
        y = torch.arange(h, dtype=torch.float32).view(h, 1)
        x = torch.arange(w, dtype=torch.float32).view(1, w)
        self.s, self.y, self.x = s, y.to(device), x.to(device)

        def waves(py, px, freqs, count):
            """Sum of random sinusoids periodic in (py, px) design pixels, normalised to [0, 1]."""
            acc = torch.zeros(h, w)
            for _ in range(count):
                ky = int(torch.randint(0, freqs + 1, (1,), generator=g)) if py else 0
                kx = int(torch.randint(1 if not ky else 0, freqs + 1, (1,), generator=g))
                ph = float(torch.rand(1, generator=g)) * 2 * math.pi
                acc += torch.sin(2 * math.pi * (ky * y / (py * s) if py else 0) + 2 * math.pi * kx * x / (px * s) + ph)
            return (acc - acc.min()) / (acc.max() - acc.min())

        def smooth(cells_h, cells_w):
            r = torch.rand(1, 1, cells_h, cells_w, generator=g)
            return F.interpolate(r, size=(h, w), mode="bicubic", align_corners=False)[0, 0]

        def mix(a, b, t):
            a, b = torch.tensor(a).view(3, 1, 1), torch.tensor(b).view(3, 1, 1)
            return a + (b - a) * t.clamp(0, 1)

        tex = torch.zeros(len(CLASSES), 3, h, w)
        # sky: blue gradient (deep at the top) with soft clouds from a fixed low-frequency field
        sky = mix((0.18, 0.38, 0.82), (0.66, 0.80, 0.96), (y / (0.55 * h)).expand(h, w))
        c = smooth(4, 8) + 0.5 * smooth(8, 16)
        c = (c - c.min()) / (c.max() - c.min())
        cloud = ((c - 0.5) / 0.3).clamp(0, 1) ** 1.5
        tex[SKY] = sky + (torch.tensor((0.97, 0.97, 1.0)).view(3, 1, 1) - sky) * 0.9 * cloud
        # tree: blobby foliage, dark and light greens
        fol = 0.5 * waves(64, 64, 6, 12) + 0.3 * waves(32, 32, 4, 8) + 0.2 * waves(16, 16, 2, 4)
        tex[TREE] = mix((0.05, 0.22, 0.05), (0.32, 0.62, 0.16), (fol - 0.25) / 0.5)
        # road: gray asphalt with fine variation
        asp = waves(16, 16, 3, 6)
        tex[ROAD] = mix((0.30, 0.30, 0.32), (0.46, 0.46, 0.47), asp)
        # building: sandstone facade with faint vertical panels (windows are added per scene)
        pan = waves(0, 32, 2, 2)
        tex[BUILDING] = mix((0.62, 0.48, 0.36), (0.80, 0.66, 0.50), 0.3 + 0.5 * pan)
        # grass: yellow-green with vertical blade streaks
        bl = 0.6 * waves(32, 8, 2, 5) + 0.4 * waves(16, 16, 2, 3)
        tex[GRASS] = mix((0.26, 0.50, 0.12), (0.58, 0.80, 0.30), (bl - 0.15) / 0.7)
        # water: horizontal ripples bent along x, with glints
        rip = 0.5 + 0.5 * torch.sin(2 * math.pi * y / (8 * s) + 1.5 * torch.sin(2 * math.pi * x / (64 * s)))
        glint = ((rip > 0.9) & ((x % (32 * s)) < 12 * s)).float()
        tex[WATER] = mix((0.08, 0.26, 0.50), (0.30, 0.56, 0.78), 0.75 * rip + 0.25 * waves(16, 32, 2, 3))
        tex[WATER] += (1 - tex[WATER]) * 0.6 * glint
        self.tex = tex.to(device)
        win_x = ((x % (16 * s)) >= 4 * s) & ((x % (16 * s)) < 12 * s)
        win_y = ((y % (32 * s)) >= 8 * s) & ((y % (32 * s)) < 22 * s)
        self.window = (win_x & win_y).to(device)
        self.window_shade = (((y % (32 * s)) - 8 * s) / (14 * s)).clamp(0, 1).expand(h, w).to(device)
        self.dash = (((y >= 0.86 * h) & (y < 0.875 * h) & ((x % (64 * s)) < 32 * s))).to(device)

    def render(self, labels, inst):
        """[B,H,W] maps -> [B,3,H,W] image in [0,1]."""
        s = self.s
        lab = labels.long()
        img = self.tex.permute(1, 0, 2, 3).unsqueeze(0).expand(lab.shape[0], -1, -1, -1, -1)
        img = torch.gather(img, 2, lab[:, None, None].expand(-1, 3, 1, -1, -1))[:, :, 0].clone()
        d = interior_distance(inst, 7)
        is_ = lambda k: (lab == k)[:, None]
        # buildings: dark outline, windows kept off the outline
        outline = is_(BUILDING) & (d <= 1 * s)[:, None]
        img = torch.where(outline, img * 0.6, img)
        win = is_(BUILDING) & (self.window & (d >= 4 * s))[:, None]
        glass = torch.tensor((0.16, 0.22, 0.34), device=img.device).view(1, 3, 1, 1) + 0.18 * self.window_shade
        img = torch.where(win, glass.expand_as(img), img)
        # trees: darker towards the outline
        shade = 0.65 + 0.35 * (d / (5 * s)).clamp(0, 1)
        img = torch.where(is_(TREE), img * shade[:, None], img)
        # road: a solid edge line a few pixels below a boundary above, dashed lane marks
        road = (lab == ROAD).float()[:, None]
        other = 1 - road - (lab == TREE).float()[:, None]  # no edge line under trees
        near = lambda n: torch.stack([_shift_down(other, i) for i in range(1, n + 1)]).amax(0)
        edge_line = (road > 0) & (near(round(7 * s)) > 0) & (near(round(4 * s)) == 0)
        paint = torch.tensor((0.92, 0.92, 0.88), device=img.device).view(1, 3, 1, 1).expand_as(img)
        img = torch.where(edge_line, paint, img)
        img = torch.where((road > 0) & self.dash, paint, img)
        # water: a lighter shore line
        img = torch.where(is_(WATER) & (d <= 1 * s)[:, None], 0.5 * img + 0.4, img)
        return img.clamp(0, 1)


def random_layout(batch, h, w, gen, device):
    """Random scenes: [B,H,W] labels and instance ids (int64) on `device`."""
    u = lambda lo, hi, *shape: (lo + (hi - lo) * torch.rand(shape or (batch,), generator=gen)).to(device).view(-1, 1, 1)
    coin = lambda p: (torch.rand(batch, generator=gen) < p).to(device).view(-1, 1, 1)
    y = torch.arange(h, device=device, dtype=torch.float32).view(1, h, 1)
    x = torch.arange(w, device=device, dtype=torch.float32).view(1, 1, w)
    horizon = u(0.30, 0.52) * h
    tilt = u(-0.06, 0.06) * h / w
    hy = horizon + tilt * (x - w / 2)
    sky = y < hy
    labels = torch.where(sky, SKY, GRASS).expand(batch, h, w).clone()
    inst = torch.where(sky, 1, 2).expand(batch, h, w).clone()

    def put(mask, label, ident):
        labels[mask] = label
        inst[mask] = ident

    # a lake with a wavy shore
    cx, cy = u(0.1, 0.9) * w, hy.mean(-1, keepdim=True) + u(0.12, 0.32) * h
    rx, ry = u(0.10, 0.35) * w, u(0.04, 0.12) * h
    ang = torch.atan2((y - cy) / ry, (x - cx) / rx)
    wob = 1 + 0.12 * torch.sin(3 * ang + u(0, 6.3)) + 0.06 * torch.sin(5 * ang + u(0, 6.3))
    lake = (((x - cx) / rx) ** 2 + ((y - cy) / ry) ** 2 < wob ** 2) & (y > hy + 3) & coin(0.5)
    put(lake, WATER, 3)
    # buildings standing on the horizon
    for k in range(6):
        x0, bw = u(-0.05, 0.95) * w, u(0.07, 0.24) * w
        bottom = horizon + tilt * (x0 + bw / 2 - w / 2) + u(0.01, 0.12) * h
        top = (bottom - u(0.12, 0.42) * h).clamp(min=0.03 * h)
        rect = (x >= x0) & (x < x0 + bw) & (y >= top) & (y < bottom) & coin(0.55)
        put(rect, BUILDING, 10 + k)
    # a road across the bottom
    rtop = u(0.62, 0.76) * h + u(-0.06, 0.06) * h / w * (x - w / 2)
    put((y >= rtop) & coin(0.85), ROAD, 4)
    # trees: unions of three discs
    for k in range(7):
        tx = u(0, 1) * w
        base = horizon + tilt * (tx - w / 2) + u(-0.02, 0.28) * h
        r = u(0.05, 0.13) * h
        blob = (x - tx) ** 2 + (y - base + r) ** 2 < r ** 2
        for side in (-1, 1):
            r2 = r * u(0.55, 0.8)
            blob |= (x - tx - side * 0.7 * r) ** 2 + (y - base + r * u(0.6, 1.5)) ** 2 < r2 ** 2
        put(blob & coin(0.5), TREE, 20 + k)
    return labels, inst


# The demo scene, mirrored pixel for pixel by samples/.../DemoScene.java: integer geometry on the
# 512x256 design canvas, each pixel mapped to design coordinates u = x*512/W, v = y*256/H.
DEMO_LAKE = (150, 160, 90, 22)  # centre u, v, radii
DEMO_BUILDINGS = [(250, 40, 310, 114), (318, 62, 372, 112), (380, 28, 452, 110), (462, 70, 506, 108)]
DEMO_TREES = [
    [(62, 92, 26), (40, 104, 18), (84, 102, 18)],
    [(206, 104, 20), (190, 112, 14), (222, 112, 14)],
    [(470, 130, 22), (452, 140, 15), (490, 140, 15)],
    [(300, 150, 16), (288, 158, 11), (312, 158, 11)],
]
DEMO_STROKE = [(150, 238), (204, 214), (262, 196), (322, 186), (372, 180)]  # a polyline, dabs every 1/6 segment
DEMO_BRUSH = 18


def demo_stroke_dabs():
    """The stroke's brush centres, by integer interpolation (all terms non-negative, so Java's / agrees)."""
    dabs = []
    for (u0, v0), (u1, v1) in zip(DEMO_STROKE, DEMO_STROKE[1:]):
        dabs += [((u0 * (6 - t) + u1 * t) // 6, (v0 * (6 - t) + v1 * t) // 6) for t in range(6)]
    return dabs + [DEMO_STROKE[-1]]


def demo_scene(h, w, edited=False):
    """[H,W] int64 labels and instances of the SDK demo's scene (and its scripted tree stroke)."""
    v = (torch.arange(h).view(h, 1) * DESIGN_H // h).expand(h, w)
    uu = (torch.arange(w).view(1, w) * DESIGN_W // w).expand(h, w)
    sky = v < 104 - uu // 32
    labels = torch.where(sky, SKY, GRASS)
    inst = torch.where(sky, 1, 2)

    def put(mask, label, ident):
        labels[mask] = label
        inst[mask] = ident

    cu, cv, rx, ry = DEMO_LAKE
    put(((uu - cu) ** 2 * ry * ry + (v - cv) ** 2 * rx * rx <= rx * rx * ry * ry) & ~sky, WATER, 3)
    for k, (u0, v0, u1, v1) in enumerate(DEMO_BUILDINGS):
        put((uu >= u0) & (uu < u1) & (v >= v0) & (v < v1), BUILDING, 10 + k)
    put(v >= 188 + uu // 64, ROAD, 4)
    for k, discs in enumerate(DEMO_TREES):
        m = torch.zeros(h, w, dtype=torch.bool)
        for du, dv, r in discs:
            m |= (uu - du) ** 2 + (v - dv) ** 2 <= r * r
        put(m, TREE, 20 + k)
    if edited:
        m = torch.zeros(h, w, dtype=torch.bool)
        for du, dv in demo_stroke_dabs():
            m |= (uu - du) ** 2 + (v - dv) ** 2 <= DEMO_BRUSH ** 2
        put(m, TREE, 30)
    return labels, inst
