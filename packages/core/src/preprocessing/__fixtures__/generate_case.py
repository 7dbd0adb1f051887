#!/usr/bin/python3
"""End-to-end preprocessing reference: one anisotropic two-channel case run through the steps of nnU-Net v2's
DefaultPreprocessor.run_case_npy (RULES.md §3, §12-§14), re-implemented here with numpy / scipy / skimage:
crop_to_nonzero (binary_fill_holes), ZScore with mask on channel 0, CT on channel 1, compute_new_shape,
resample_data_or_seg with the separate-z rule (in-plane skimage resize per slice, then map_coordinates order 0
along z), resize_segmentation (order 1), and _sample_foreground_locations with RandomState(1234).

Run: /usr/bin/python3 generate_case.py   (writes case_*.bin and case.json here)
"""
import json
import math
import os

import numpy as np
from scipy.ndimage import binary_fill_holes, map_coordinates
from skimage.transform import resize

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(3)
Z, Y, X = 6, 20, 18
spacing = [4.0, 1.0, 1.0]
target = [2.5, 0.8, 0.8]
img = np.zeros((2, Z, Y, X), dtype=np.float32)
zz, yy, xx = np.meshgrid(np.arange(Z), np.arange(Y), np.arange(X), indexing='ij')
body = ((yy - 10) / 7.5) ** 2 + ((xx - 9) / 6.5) ** 2 < 1
img[0][body] = (rng.rand(int(body.sum())) * 50 + 100).astype(np.float32)
img[1][body] = (rng.randn(int(body.sum())) * 30 + 40).astype(np.float32)
img[0, 2, 10, 9] = 0  # an interior zero: must stay inside (hole filling)
seg = np.zeros((Z, Y, X), dtype=np.int16)
seg[(((yy - 9) / 3.0) ** 2 + ((xx - 8) / 2.5) ** 2 < 1) & (zz >= 1) & (zz <= 4)] = 1
seg[(((yy - 12) / 2.0) ** 2 + ((xx - 11) / 2.0) ** 2 < 1) & (zz >= 2)] = 2
ct_props = dict(mean=35.0, std=25.0, median=36.0, min=-80.0, max=150.0, percentile_00_5=-20.0, percentile_99_5=100.0)
img.astype('<f4').tofile(os.path.join(HERE, 'case_image.bin'))
seg.astype('<i2').tofile(os.path.join(HERE, 'case_seg.bin'))

# crop_to_nonzero
mask = binary_fill_holes(np.any(img != 0, axis=0))
idx = np.where(mask)
bbox = [[int(i.min()), int(i.max()) + 1] for i in idx]
sl = tuple(slice(a, b) for a, b in bbox)
data = img[(slice(None),) + sl].copy()
cseg = seg[sl].copy()
cseg[(cseg == 0) & ~mask[sl]] = -1
# normalization: ZScore with mask on channel 0, CT on channel 1
m = cseg >= 0
d0 = data[0]
mean, std = d0[m].mean(), d0[m].std()
d0[m] = (d0[m] - mean) / max(std, 1e-8)
d1 = np.clip(data[1], ct_props['percentile_00_5'], ct_props['percentile_99_5'])
data[1] = (d1 - ct_props['mean']) / max(ct_props['std'], 1e-8)
# shapes and resampling (current spacing is anisotropic: 4/1 > 3 -> separate z along axis 0)
shape = data.shape[1:]
new_shape = [int(round(s / t * n)) for s, t, n in zip(spacing, target, shape)]


def sep_z(vol, order, seg_mode):
    mid = np.zeros((vol.shape[0], new_shape[1], new_shape[2]), dtype=float)
    for s in range(vol.shape[0]):
        if seg_mode:
            out = np.zeros(new_shape[1:], dtype=np.int16)
            for c in np.unique(vol[s]):
                r = resize((vol[s] == c).astype(float), new_shape[1:], order, mode='edge', clip=True, anti_aliasing=False)
                out[r >= 0.5] = c
            mid[s] = out
        else:
            mid[s] = resize(vol[s], new_shape[1:], order, mode='edge', anti_aliasing=False)
    g = np.mgrid[:new_shape[0], :new_shape[1], :new_shape[2]].astype(float)
    for i in range(3):
        g[i] = (mid.shape[i] / new_shape[i]) * (g[i] + 0.5) - 0.5
    return map_coordinates(mid, g, order=0, mode='nearest')


out_data = np.stack([sep_z(data[c].astype(float), 3, False) for c in range(2)]).astype(np.float32)
out_seg = sep_z(cseg, 1, True).astype(np.int16)
out_data.astype('<f4').tofile(os.path.join(HERE, 'case_out_data.bin'))
out_seg.astype('<i2').tofile(os.path.join(HERE, 'case_out_seg.bin'))

# class locations (coordinates [z, y, x]; nnU-Net keeps a leading channel index 0)
rs = np.random.RandomState(1234)
fg = np.argwhere(out_seg != 0)
vals = out_seg[out_seg != 0]
locs = {}
for c in [1, 2]:
    allc = fg[vals == c]
    n = min(10000, len(allc))
    n = max(n, int(np.ceil(len(allc) * 0.01)))
    locs[str(c)] = allc[rs.choice(len(allc), n, replace=False)].tolist() if len(allc) else []

with open(os.path.join(HERE, 'case.json'), 'w') as f:
    json.dump(dict(shape=[2, Z, Y, X], spacing=spacing, target=target, ct=ct_props, bbox=bbox,
                   shape_after_crop=list(shape), new_shape=new_shape, class_locations=locs), f)

# export (RULES.md §14): random logits on the preprocessed grid -> resample to the cropped shape with order 1
# (current spacing = target 2.5/0.8 is anisotropic > 3 -> separate z: in-plane order 1 per slice, nearest along z),
# softmax, argmax, paste into the bbox of the original shape (0 outside).
K = 3
logits = rng.randn(K, *new_shape).astype(np.float32)
logits[1] += 0.5 * (out_seg == 1)
logits.astype('<f4').tofile(os.path.join(HERE, 'case_logits.bin'))
back = []
for k in range(K):
    mid = np.zeros((new_shape[0], shape[1], shape[2]))
    for s in range(new_shape[0]):
        mid[s] = resize(logits[k, s].astype(float), shape[1:], 1, mode='edge', anti_aliasing=False)
    g = np.mgrid[:shape[0], :shape[1], :shape[2]].astype(float)
    for i in range(3):
        g[i] = (mid.shape[i] / shape[i]) * (g[i] + 0.5) - 0.5
    back.append(map_coordinates(mid, g, order=0, mode='nearest'))
back = np.stack(back)
e = np.exp(back - back.max(0, keepdims=True))
probs = e / e.sum(0, keepdims=True)
full = np.zeros((Z, Y, X), dtype=np.int16)
full[sl] = probs.argmax(0)
full.astype('<i2').tofile(os.path.join(HERE, 'case_export_seg.bin'))
