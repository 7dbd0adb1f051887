#!/usr/bin/python3
"""Fingerprint reference (RULES.md §2) computed the way nnU-Net v2's DatasetFingerprintExtractor does, with numpy:
crop to nonzero (scipy binary_fill_holes), foreground = seg > 0 of the cropped case, per case a fresh
RandomState(1234) and rs.choice(fg, num_samples, replace=True) per channel, pooled statistics with
np.percentile((0.5, 50, 99.5)). num_samples = int(total // num_cases) with total = 1000 here (10e7 upstream).

Run: /usr/bin/python3 generate.py
"""
import json
import os

import numpy as np
from scipy.ndimage import binary_fill_holes

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(7)
cases = []
for k, shape in enumerate([(6, 9, 8), (7, 8, 10), (5, 6, 7)]):
    img = np.zeros((2, *shape), dtype=np.float32)
    img[:, 1:-1, 1:-2, 2:-1] = rng.randn(2, shape[0] - 2, shape[1] - 3, shape[2] - 3).astype(np.float32) * 10 + 100
    img[1] = np.round(img[1])  # integer-valued channel: many ties
    seg = np.zeros(shape, dtype=np.int16)
    seg[2:4, 2:5, 3:6] = 1
    seg[3, 3, 3] = 2
    img.astype('<f4').tofile(os.path.join(HERE, f'case{k}_img.bin'))
    seg.astype('<i2').tofile(os.path.join(HERE, f'case{k}_seg.bin'))
    cases.append((img, seg, [2.0 + k, 1.0, 0.5]))

total = 1000
num_samples = int(total // len(cases))
pooled = [[], []]
shapes, rel = [], []
for img, seg, _ in cases:
    mask = binary_fill_holes(np.any(img != 0, axis=0))
    idx = np.where(mask)
    sl = tuple(slice(i.min(), i.max() + 1) for i in idx)
    ci, cs = img[(slice(None),) + sl], seg[sl]
    shapes.append(list(ci.shape[1:]))
    rel.append(np.prod(ci.shape[1:]) / np.prod(img.shape[1:]))
    rs = np.random.RandomState(1234)
    for c in range(2):
        fg = ci[c][cs > 0]
        pooled[c].append(rs.choice(fg, num_samples, replace=True))
props = {}
for c in range(2):
    v = np.concatenate(pooled[c]).astype(np.float64)
    p = np.percentile(v, (0.5, 50.0, 99.5))
    props[str(c)] = dict(mean=float(np.mean(v)), median=float(p[1]), std=float(np.std(v)), min=float(np.min(v)),
                         max=float(np.max(v)), percentile_99_5=float(p[2]), percentile_00_5=float(p[0]))
out = dict(cases=[dict(shape=[2, *img.shape[1:]], spacing=sp) for img, _, sp in cases], total=total,
           fingerprint=dict(foreground_intensity_properties_per_channel=props,
                            median_relative_size_after_cropping=float(np.median(rel)),
                            shapes_after_crop=shapes, spacings=[sp for _, _, sp in cases]))
with open(os.path.join(HERE, 'fingerprint.json'), 'w') as f:
    json.dump(out, f, indent=1)
