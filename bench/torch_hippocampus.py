#!/usr/bin/env python3
"""PyTorch anchor of `npm run bench`: the same cases as bench/cases/*.mjs, written with plain torch.nn.

Reads one JSON object on stdin (written by bench/run.mjs from the project's own Hippocampus plan):
  {"features": [...], "strides": [[z,y,x],...], "kernels": [[z,y,x],...], "nConv": [...], "nConvDecoder": [...],
   "patch": [z,y,x], "numClasses": K, "batchDice": bool, "batches": [2, 9], "threads": T,
   "slidingShape": [z,y,x] | null, "cases": ["conv3d", "unet3d-hippocampus", "sliding-window"]}
and prints one JSON object {"torch": version, "threads": T, "rows": [...]} with rows named as the Node cases
(`case`, `batch`, `seconds` = median wall, `cpuSeconds` = process CPU time per run, all threads).

The network is nnU-Net v2's PlainConvUNet as dynamic_network_architectures builds it (conv with bias ->
InstanceNorm3d(eps 1e-5, affine) -> LeakyReLU(0.01) per conv, strided first conv per stage, ConvTranspose3d with
kernel = stride, skip concatenation, a 1x1x1 segmentation head per decoder stage), the loss nnU-Net's DC_and_CE_loss
(MemoryEfficientSoftDiceLoss, do_bg False, smooth 1e-5, + CrossEntropyLoss) in its DeepSupervisionWrapper (weights
1/2^i, lowest 0, normalised; targets 'nearest-exact' downsampled), clip_grad_norm_(12) and SGD(lr 1e-2, momentum
0.99, nesterov, weight decay 3e-5): nnUNetTrainer.train_step in float32 on the CPU. Written from nnU-Net's
documented behaviour for this benchmark only (not a copy of its code).
"""
import json
import statistics
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_block(cin, cout, k, stride):
    return [nn.Conv3d(cin, cout, k, stride, [x // 2 for x in k], bias=True),
            nn.InstanceNorm3d(cout, eps=1e-5, affine=True), nn.LeakyReLU(0.01, inplace=True)]


class PlainConvUNet(nn.Module):
    def __init__(self, cfg, cin=1):
        super().__init__()
        feats, strides, kernels = cfg["features"], cfg["strides"], cfg["kernels"]
        self.enc = nn.ModuleList()
        c = cin
        for s, f in enumerate(feats):
            layers = []
            for i in range(cfg["nConv"][s]):
                layers += conv_block(c, f, kernels[s], strides[s] if i == 0 else [1, 1, 1])
                c = f
            self.enc.append(nn.Sequential(*layers))
        self.up, self.dec, self.seg = nn.ModuleList(), nn.ModuleList(), nn.ModuleList()
        for s in range(len(feats) - 2, -1, -1):
            st = strides[s + 1]
            self.up.append(nn.ConvTranspose3d(feats[s + 1], feats[s], st, st, bias=True))
            layers, c = [], 2 * feats[s]
            for i in range(cfg["nConvDecoder"][s]):
                layers += conv_block(c, feats[s], kernels[s], [1, 1, 1])
                c = feats[s]
            self.dec.append(nn.Sequential(*layers))
            self.seg.append(nn.Conv3d(feats[s], cfg["numClasses"], 1, 1, 0, bias=True))
        self.deep_supervision = True
        for m in self.modules():  # nnU-Net's InitWeights_He(1e-2)
            if isinstance(m, (nn.Conv3d, nn.ConvTranspose3d)):
                nn.init.kaiming_normal_(m.weight, a=1e-2)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        skips = []
        for m in self.enc:
            x = m(x)
            skips.append(x)
        x = skips[-1]
        outs = []
        for i, (up, dec, seg) in enumerate(zip(self.up, self.dec, self.seg)):
            x = dec(torch.cat([up(x), skips[-(i + 2)]], 1))
            if self.deep_supervision or i == len(self.up) - 1:
                outs.append(seg(x))
        outs = outs[::-1]  # highest resolution first
        return outs if self.deep_supervision else outs[0]


def soft_dice(logits, target, batch_dice, smooth=1e-5):
    p = torch.softmax(logits, 1)[:, 1:]
    with torch.no_grad():
        onehot = torch.zeros_like(logits).scatter_(1, target.long(), 1)[:, 1:]
    axes = [0] + list(range(2, logits.ndim)) if batch_dice else list(range(2, logits.ndim))
    tp = (p * onehot).sum(axes)
    sp, sg = p.sum(axes), onehot.sum(axes)
    dc = (2 * tp + smooth) / torch.clip(sg + sp + smooth, 1e-8)
    return -dc.mean()


def dc_ce(outs, targets, weights, batch_dice):
    total = 0
    for o, t, w in zip(outs, targets, weights):
        if w == 0:
            continue
        total = total + w * (F.cross_entropy(o, t[:, 0].long()) + soft_dice(o, t, batch_dice))
    return total


def labels(batch, patch):
    d, h, w = patch
    z, y, x = np.meshgrid(np.arange(d), np.arange(h), np.arange(w), indexing="ij")
    out = np.zeros((batch, 1, d, h, w), np.float32)
    for b in range(batch):
        r = ((z - d / 2) / (d / 3)) ** 2 + ((y - h / 2) / (h / 3)) ** 2 + ((x - w / 2 - b) / (w / 3)) ** 2
        out[b, 0] = np.where(r < 1, np.where(x < w / 2, 1, 2), 0)
    return torch.from_numpy(out).to(DEV)


DEV = "cpu"  # cfg "device": "cuda" runs every case on the GPU (bench/gpu.sh)


def sync():
    if DEV != "cpu":
        torch.cuda.synchronize()


def timed(f, reps, warmup=1):
    for _ in range(warmup):
        f()
    sync()
    ts = []
    c0 = time.process_time()
    for _ in range(reps):
        t = time.perf_counter()
        f()
        sync()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts), (time.process_time() - c0) / reps


def ds_weights(n):
    w = np.array([1 / 2 ** i for i in range(n)])
    w[-1] = 0
    return (w / w.sum()).tolist()


def train_rows(cfg):
    rows = []
    patch = cfg["patch"]
    for batch in cfg["batches"]:
        torch.manual_seed(0)
        net = PlainConvUNet(cfg)
        opt = torch.optim.SGD(net.parameters(), 1e-2, momentum=0.99, nesterov=True, weight_decay=3e-5)
        x = torch.rand(batch, 1, *patch) * 2 - 1
        seg = labels(batch, patch)
        with torch.no_grad():
            shapes = [o.shape[2:] for o in net(x)]
        targets = [F.interpolate(seg, size=s, mode="nearest-exact") for s in shapes]
        weights = ds_weights(len(shapes))
        state = {}

        def step():
            opt.zero_grad(set_to_none=True)
            loss = dc_ce(net(x), targets, weights, cfg["batchDice"])
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 12)
            opt.step()
            state.setdefault("first", loss.item())

        wall, cpu = timed(step, 2 if batch <= 2 else 1)
        rows.append({"case": "unet3d-hippocampus-train-step", "batch": batch, "seconds": round(wall, 3),
                     "cpuSeconds": round(cpu, 3), "firstLoss": round(state["first"], 4)})
    torch.manual_seed(0)
    net = PlainConvUNet(cfg).eval()
    net.deep_supervision = False
    x = torch.rand(1, 1, *patch) * 2 - 1
    with torch.no_grad():
        wall, cpu = timed(lambda: net(x), 3)
    rows.append({"case": "unet3d-hippocampus-forward", "batch": 1, "seconds": round(wall, 3), "cpuSeconds": round(cpu, 3)})
    return rows


def conv_rows():
    x = torch.rand(2, 32, 40, 56, 40) * 2 - 1
    w = torch.rand(32, 32, 3, 3, 3) * 0.2 - 0.1
    y = F.conv3d(x, w, padding=1)
    dy = torch.rand_like(y)
    flops = 2 * y.numel() * 32 * 27
    res = {}
    res["fwd"] = timed(lambda: F.conv3d(x, w, padding=1), 3)
    res["bwdData"] = timed(lambda: torch.nn.grad.conv3d_input(x.shape, w, dy, padding=1), 3)
    res["bwdFilter"] = timed(lambda: torch.nn.grad.conv3d_weight(x, w.shape, dy, padding=1), 3)
    total = sum(v[0] for v in res.values())
    row = {"case": "conv3d-32x32-3x3x3", "shape": [2, 32, 40, 56, 40], "gflopsFwdBwd": round(3 * flops / total / 1e9, 1),
           "gflopsPerCpuSecond": round(3 * flops / sum(v[1] for v in res.values()) / 1e9, 1)}
    for k, (wall, cpu) in res.items():
        row[k + "Seconds"] = round(wall, 4)
    return [row]


def steps_1d(size, patch, step=0.5):
    # nnU-Net compute_steps_for_sliding_window: evenly spaced starts, target step patch * step_size
    n = int(np.ceil((size - patch) / (patch * step))) + 1 if size > patch else 1
    if n == 1:
        return [0]
    actual = (size - patch) / (n - 1)
    return [int(np.round(actual * i)) for i in range(n)]


def gaussian(patch, sigma_scale=1 / 8):
    tmp = np.zeros(patch)
    tmp[tuple(p // 2 for p in patch)] = 1
    from scipy.ndimage import gaussian_filter  # nnU-Net uses scipy's gaussian_filter for the importance map
    g = gaussian_filter(tmp, [p * sigma_scale for p in patch], 0, mode="constant", cval=0)
    g = g / g.max()
    g[g == 0] = g[g != 0].min()
    return torch.from_numpy(g.astype(np.float32)).to(DEV)


def sliding_rows(cfg):
    shape, patch = cfg["slidingShape"], cfg["patch"]
    torch.manual_seed(0)
    net = PlainConvUNet(cfg).eval()
    net.deep_supervision = False
    img = torch.rand(1, 1, *shape) * 2 - 1
    pad = [max(0, p - s) for s, p in zip(shape, patch)]
    img = F.pad(img, sum([[q // 2, q - q // 2] for q in pad[::-1]], []))
    full = img.shape[2:]
    try:
        g = gaussian(patch)
    except ImportError:
        g = torch.ones(patch)
    starts = [(z, y, x) for z in steps_1d(full[0], patch[0]) for y in steps_1d(full[1], patch[1]) for x in steps_1d(full[2], patch[2])]
    rows = []
    for mirror in (False, True):
        flips = [(), (2,), (3,), (4,), (2, 3), (2, 4), (3, 4), (2, 3, 4)] if mirror else [()]

        def run():
            acc = torch.zeros(cfg["numClasses"], *full)
            wsum = torch.zeros(full)
            with torch.no_grad():
                for z, y, x in starts:
                    tile = img[:, :, z:z + patch[0], y:y + patch[1], x:x + patch[2]]
                    pred = sum(torch.flip(net(torch.flip(tile, f)), f) if f else net(tile) for f in flips) / len(flips)
                    acc[:, z:z + patch[0], y:y + patch[1], x:x + patch[2]] += pred[0] * g
                    wsum[z:z + patch[0], y:y + patch[1], x:x + patch[2]] += g
                return (acc / wsum).argmax(0)

        wall, cpu = timed(run, 1, warmup=1)
        rows.append({"case": "sliding-window" + ("-mirror" if mirror else ""), "seconds": round(wall, 3), "cpuSeconds": round(cpu, 3), "tiles": len(starts)})
    return rows


def main():
    global DEV
    cfg = json.load(sys.stdin)
    DEV = cfg.get("device", "cpu")
    if DEV != "cpu":
        torch.set_default_device(DEV)  # torch >= 2.0: modules and factories on the GPU
        torch.backends.cudnn.benchmark = True
    torch.set_num_threads(int(cfg.get("threads", 2)))
    torch.set_flush_denormal(True)
    rows = []
    wanted = cfg.get("cases", ["conv3d", "unet3d-hippocampus", "sliding-window"])
    if "conv3d" in wanted:
        rows += conv_rows()
    if "unet3d-hippocampus" in wanted:
        rows += train_rows(cfg)
    if "sliding-window" in wanted and cfg.get("slidingShape"):
        rows += sliding_rows(cfg)
    gpu = torch.cuda.get_device_name(0) if DEV != "cpu" else None
    json.dump({"torch": torch.__version__, "device": DEV, "gpu": gpu, "threads": torch.get_num_threads(), "mkldnn": torch.backends.mkldnn.is_available(), "rows": rows}, sys.stdout)


if __name__ == "__main__":
    main()
