#!/usr/bin/python3
"""Regenerates the resampling fixtures with Debian's python3-skimage / python3-scipy (skimage 0.19, scipy 1.10).

Run: /usr/bin/python3 generate.py   (writes *.bin and fixtures.json next to this file)

Reference behaviour reproduced here (facts from nnU-Net v2 default_resampling.py and batchgenerators):
- data: skimage.transform.resize(order, mode='edge', anti_aliasing=False) per channel; separate z = in-plane resize
  of every slice, then scipy map_coordinates(order=order_z, mode='nearest') along the low-res axis with
  coordinates (i + 0.5) * old/new - 0.5.
- seg: per sorted unique label, resize of the binary mask with `order`, clip=True; label written where >= 0.5.
"""
import json
import os

import numpy as np
from scipy.ndimage import map_coordinates
from skimage.transform import resize

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(42)
manifest = {"data": [], "seg": [], "random": {}}


def save(name, arr, dtype):
    arr.astype(dtype).tofile(os.path.join(HERE, name))


def sep_z_data(vol, new_shape, order, order_z, axis):
    mid_shape = [new_shape[i] if i != axis else vol.shape[i] for i in range(3)]
    mid = np.zeros(mid_shape)
    for s in range(vol.shape[axis]):
        sl = [slice(None)] * 3
        sl[axis] = s
        plane_shape = [new_shape[i] for i in range(3) if i != axis]
        mid[tuple(sl)] = resize(vol[tuple(sl)], plane_shape, order, mode='edge', anti_aliasing=False)
    if mid.shape[axis] == new_shape[axis]:
        return mid
    grids = np.mgrid[:new_shape[0], :new_shape[1], :new_shape[2]].astype(float)
    for i in range(3):
        grids[i] = (mid.shape[i] / new_shape[i]) * (grids[i] + 0.5) - 0.5
    return map_coordinates(mid, grids, order=order_z, mode='nearest')


def resize_seg(seg, new_shape, order):
    out = np.zeros(new_shape, dtype=seg.dtype)
    for c in np.unique(seg):
        m = resize((seg == c).astype(float), new_shape, order, mode='edge', clip=True, anti_aliasing=False)
        out[m >= 0.5] = c
    return out


def data_case(name, shape, new_shape, order, order_z=0, axis=None, smooth=False):
    vol = rng.randn(*shape)
    if smooth:
        vol = vol.cumsum(0).cumsum(1).cumsum(2)
    vol = vol.astype(np.float32)
    if axis is None:
        out = resize(vol.astype(float), new_shape, order, mode='edge', anti_aliasing=False)
    else:
        out = sep_z_data(vol.astype(float), new_shape, order, order_z, axis)
    save(name + '_in.bin', vol, '<f4')
    save(name + '_out.bin', out, '<f4')
    manifest["data"].append(dict(name=name, shape=list(shape), newShape=list(new_shape), order=order,
                                 orderZ=order_z, separateZAxis=axis, range=float(vol.max() - vol.min())))


def blobs(shape, labels):
    seg = np.zeros(shape, dtype=np.int16)
    zz, yy, xx = np.meshgrid(*[np.arange(s) for s in shape], indexing='ij')
    for lab in labels:
        c = [rng.uniform(0, s) for s in shape]
        r = rng.uniform(2, max(shape) / 2.5)
        seg[(zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 < r * r] = lab
    return seg


def seg_case(name, shape, new_shape, order, labels, order_z=0, axis=None):
    seg = blobs(shape, labels)
    if axis is None:
        out = resize_seg(seg, new_shape, order)
    else:
        mid_shape = [new_shape[i] if i != axis else shape[i] for i in range(3)]
        mid = np.zeros(mid_shape, dtype=np.int16)
        for s in range(shape[axis]):
            sl = [slice(None)] * 3
            sl[axis] = s
            mid[tuple(sl)] = resize_seg(seg[tuple(sl)], [new_shape[i] for i in range(3) if i != axis], order)
        grids = np.mgrid[:new_shape[0], :new_shape[1], :new_shape[2]].astype(float)
        for i in range(3):
            grids[i] = (mid.shape[i] / new_shape[i]) * (grids[i] + 0.5) - 0.5
        out = map_coordinates(mid, grids, order=order_z, mode='nearest')
    save(name + '_in.bin', seg, '<i2')
    save(name + '_out.bin', out, '<i2')
    manifest["seg"].append(dict(name=name, shape=list(shape), newShape=list(new_shape), order=order,
                                orderZ=order_z, separateZAxis=axis))


data_case('o3_up', (6, 7, 8), (9, 10, 13), 3)
data_case('o3_down', (14, 13, 12), (7, 9, 5), 3)
data_case('o3_mixed_smooth', (10, 12, 9), (13, 7, 9), 3, smooth=True)
data_case('o1_mixed', (8, 9, 10), (11, 6, 13), 1)
data_case('o0_mixed', (8, 9, 10), (11, 6, 13), 0)
data_case('o2_up', (5, 6, 7), (8, 9, 10), 2)
data_case('o5_mixed', (6, 8, 7), (9, 5, 11), 5)
data_case('sepz_axis0', (5, 16, 15), (13, 20, 11), 3, order_z=0, axis=0)
data_case('sepz_axis2', (12, 11, 4), (9, 14, 10), 3, order_z=0, axis=2)
data_case('sepz_axis0_oz1', (5, 9, 8), (12, 11, 6), 3, order_z=1, axis=0)
seg_case('seg_o1', (10, 11, 12), (14, 8, 17), 1, [1, 2, 3])
seg_case('seg_o1_neg', (12, 12, 12), (17, 17, 17), 1, [-1, 2, 4, 5])
seg_case('seg_sepz', (4, 14, 13), (11, 18, 9), 1, [1, 2], order_z=0, axis=0)
seg_case('seg_o0', (9, 10, 11), (13, 7, 15), 0, [1, 2])

# numpy RandomState(1234) draws, for the MT19937 port used by fingerprint / class-location sampling
rs = np.random.RandomState(1234)
manifest["random"]["randint_1000"] = rs.randint(0, 1000, 50).tolist()
manifest["random"]["randint_7_after"] = rs.randint(0, 7, 20).tolist()
rs = np.random.RandomState(1234)
manifest["random"]["choice_noreplace_37_5"] = rs.choice(37, 5, replace=False).tolist()
rs = np.random.RandomState(1234)
manifest["random"]["choice_replace_values"] = rs.choice(np.array([5.0, -1.0, 2.5, 7.0, 3.0]), 12, replace=True).tolist()
v = np.array([3.0, -2.0, 8.5, 1.0, 1.0, 4.0, 10.0])
manifest["random"]["percentiles"] = dict(values=v.tolist(), q=[0.5, 50.0, 99.5],
                                         result=np.percentile(v, (0.5, 50.0, 99.5)).tolist())

with open(os.path.join(HERE, 'fixtures.json'), 'w') as f:
    json.dump(manifest, f, indent=1)
