"""Trains the SDK demo's small GauGAN on procedural scenes and exports it for Tessera's Java engine.

    python3 train.py --out OUT [--minutes 6] [--ngf 12] [--crop 512] [--upsampling more]

Regression only (L1 on pixels and on their horizontal/vertical differences), Adam, bf16 autocast on
CUDA. Training stops by wall clock; the last tenth of the time runs with BatchNorm in eval mode on
freshly measured population statistics, so the exported model is exactly what was trained. Writes
to OUT: weights.safetensors (F16 weights, F32 BatchNorm statistics), config.json, preview.png
(label colours | generated | target), demo_check.safetensors (the demo scene's maps and the
PyTorch output of the exported weights, for checking the Java engine) and train_log.txt.
"""
import argparse
import contextlib
import json
import math
import struct
import time
import zlib
from pathlib import Path

import torch
from torch.nn import functional as F

from model import Generator, count_macs
from scenes import CLASSES, COLORS, Textures, colorize, demo_scene, random_layout, semantic_input

# ---------------------------------------------------------------- file formats

_DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.int32: "I32"}


def save_safetensors(path, tensors, metadata=None):
    """Writes {name: tensor} as safetensors: u64 LE header size, JSON header, raw LE data."""
    header, blobs, offset = {}, [], 0
    # F32 first, so 4-byte tensors stay 4-byte aligned after the 2-byte ones
    for name, t in sorted(tensors.items(), key=lambda kv: (kv[1].element_size() != 4, kv[0])):
        data = t.detach().cpu().contiguous().numpy().tobytes()  # little-endian hosts (x86-64, ARM)
        header[name] = {"dtype": _DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if metadata:
        header["__metadata__"] = metadata
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-(8 + len(raw)) % 8)  # data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        for b in blobs:
            f.write(b)


def load_safetensors(path):
    raw = Path(path).read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    header.pop("__metadata__", None)
    types = {v: k for k, v in _DTYPES.items()}
    out = {}
    for name, e in header.items():
        b0, b1 = e["data_offsets"]
        buf = bytearray(raw[8 + n + b0 : 8 + n + b1])
        out[name] = torch.frombuffer(buf, dtype=types[e["dtype"]]).reshape(e["shape"]) if b1 > b0 else torch.zeros(e["shape"])
    return out


def save_png(path, img):
    """[3,H,W] float image in [0,1] -> 8-bit RGB PNG."""
    a = (img.clamp(0, 1) * 255 + 0.5).to(torch.uint8).permute(1, 2, 0).cpu().contiguous()
    h, w = a.shape[:2]
    rows = b"".join(b"\x00" + a[y].numpy().tobytes() for y in range(h))
    chunk = lambda tag, data: struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(rows, 6)) + chunk(b"IEND", b"")
    Path(path).write_bytes(png)


# ---------------------------------------------------------------- training


def loss_fn(out, target):
    l1 = (out - target).abs().mean()
    dx = lambda t: t[..., :, 1:] - t[..., :, :-1]
    dy = lambda t: t[..., 1:, :] - t[..., :-1, :]
    grad = (dx(out) - dx(target)).abs().mean() + (dy(out) - dy(target)).abs().mean()
    return l1 + grad, l1


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--ngf", type=int, default=12)
    p.add_argument("--crop", type=int, default=512)
    p.add_argument("--aspect", type=float, default=2.0)
    p.add_argument("--upsampling", default="more", choices=["normal", "more", "most"])
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=5e-4)
    p.add_argument("--minutes", type=float, default=6.0)
    p.add_argument("--max-steps", type=int, default=10**9)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    log_file = open(out_dir / "train_log.txt", "w")

    def log(*a):
        s = " ".join(str(x) for x in a)
        print(s, flush=True)
        log_file.write(s + "\n")
        log_file.flush()

    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(args.seed)
    torch.backends.cudnn.benchmark = True
    nc = len(CLASSES) + 1
    model = Generator(args.ngf, nc, args.crop, args.aspect, args.upsampling)
    h, w = model.output_size
    n_params = sum(p.numel() for p in model.parameters())
    macs = count_macs(model, torch.zeros(1, nc, h, w))
    log(f"device {dev} ({torch.cuda.get_device_name() if dev == 'cuda' else 'cpu'}), torch {torch.__version__}")
    log(f"model ngf {args.ngf}, semantic_nc {nc}, output {h}x{w}, {n_params / 1e6:.2f} M params, {macs / 1e9:.2f} GMACs")
    model = model.to(dev).to(memory_format=torch.channels_last).train()
    tex = Textures(h, w, dev)
    gen = torch.Generator().manual_seed(args.seed)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr, betas=(0.9, 0.99))
    amp = lambda: torch.autocast("cuda", dtype=torch.bfloat16) if dev == "cuda" else contextlib.nullcontext()

    def batch(g, n):
        labels, inst = random_layout(n, h, w, g, dev)
        seg = semantic_input(labels, inst).contiguous(memory_format=torch.channels_last)
        return labels, inst, seg, tex.render(labels, inst) * 2 - 1

    budget = args.minutes * 60
    start = time.time()
    step, frozen, seen, ema = 0, False, 0, None
    while True:
        frac = (time.time() - start) / budget
        if frac >= 1 or step >= args.max_steps:
            break
        if not frozen and (frac >= 0.9 or step >= 0.75 * args.max_steps):
            # population statistics from fresh batches, then BatchNorm stays in eval mode
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.reset_running_stats()
                    m.momentum = None
            with torch.no_grad(), amp():
                for _ in range(30 if dev == "cuda" else 2):
                    model(batch(gen, args.batch)[2])
            model.eval()
            frozen = True
            log(f"step {step}: BatchNorm statistics measured, eval mode from now on")
        lr = args.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(frac, 1))))
        for group in opt.param_groups:
            group["lr"] = lr
        _, _, seg, target = batch(gen, args.batch)
        with amp():
            out = model(seg)
        loss, l1 = loss_fn(out.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        step += 1
        seen += args.batch
        ema = loss.item() if ema is None else 0.98 * ema + 0.02 * loss.item()
        if step % 100 == 0 or step <= 3:
            el = time.time() - start
            log(f"step {step} t {el:.0f}s loss {loss.item():.4f} (ema {ema:.4f}, l1 {l1.item():.4f}) lr {lr:.2e} {seen / el:.0f} img/s")
    train_s = time.time() - start
    log(f"trained {step} steps, {seen} images in {train_s:.0f} s")

    # ------------------------------------------------------------ export
    model = model.float().to(memory_format=torch.contiguous_format).eval()
    tensors = {}
    for k, v in model.state_dict().items():
        if k.endswith("num_batches_tracked"):
            continue
        tensors[k] = v.float() if "param_free_norm" in k else v.half()
    save_safetensors(out_dir / "weights.safetensors", tensors, {"format": "pt", "source": "tools/demo_gaugan/train.py"})
    config = {
        "model": "gaugan", "ngf": args.ngf, "semantic_nc": nc, "crop_size": args.crop, "aspect_ratio": args.aspect,
        "num_upsampling_layers": args.upsampling, "upsampling_layers": model.layers,
        "output_height": h, "output_width": w, "instance_edge_channel": nc - 1,
        "classes": [{"id": i, "name": n, "color": list(c)} for i, (n, c) in enumerate(zip(CLASSES, COLORS))],
        "params": n_params, "macs": macs, "train_steps": step, "train_images": seen, "train_seconds": round(train_s),
        "seed": args.seed,
    }
    # the exported (F16-rounded) weights, evaluated in float32 without TF32
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    model.load_state_dict({k: v.float() for k, v in load_safetensors(out_dir / "weights.safetensors").items()}, strict=False)
    with torch.no_grad():
        _, _, seg, target = batch(torch.Generator().manual_seed(12345), 8)
        out = model(seg)
        val, val_l1 = loss_fn(out, target)
        config["val_loss"], config["val_l1"] = round(val.item(), 4), round(val_l1.item(), 4)
        log(f"validation (eval mode, exported weights): loss {val.item():.4f}, l1 {val_l1.item():.4f}")
        (out_dir / "config.json").write_text(json.dumps(config, indent=1) + "\n")
        check, rows = {}, []
        for i in range(3):
            rows.append(torch.cat([colorize(seg[i : i + 1, :-1].argmax(1))[0], out[i] * 0.5 + 0.5, target[i] * 0.5 + 0.5], 2))
        for name, edited in (("original", False), ("edited", True)):
            labels, inst = demo_scene(h, w, edited)
            labels, inst = labels[None].to(dev), inst[None].to(dev)
            s = semantic_input(labels, inst)
            o = model(s)
            rows.append(torch.cat([colorize(labels)[0], o[0] * 0.5 + 0.5, tex.render(labels, inst)[0]], 2))
            check[f"labels_{name}"] = labels[0].to(torch.int32)
            check[f"instances_{name}"] = inst[0].to(torch.int32)
            check[f"output_{name}"] = o.float()
        save_safetensors(out_dir / "demo_check.safetensors", check)
        save_png(out_dir / "preview.png", torch.cat(rows, 1))
    log("wrote", ", ".join(sorted(p.name for p in out_dir.iterdir())))


if __name__ == "__main__":
    main()
