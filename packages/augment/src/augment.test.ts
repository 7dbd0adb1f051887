import { createRng, daSettings, Registry, type Sample } from '@nnunet-ts/core';
import { describe, expect, it } from 'vitest';
import { applyTransforms } from './compose.js';
import { gaussianBlur } from './blur.js';
import { contrast, gamma, mirror, removeLabel } from './intensity.js';
import { simulateLowResolution } from './lowres.js';
import { resampleAffine, spatialTransform } from './spatial.js';
import { meanStd } from './sample-util.js';
import { nnUNetDefault, registerDefaults } from './index.js';

/** A 2-channel sample whose seg is a function of channel 0 (seg = 1 where ch0 > 0.5, 2 where > 0.8). */
function makeSample(z: number, y: number, x: number, seed = 1): Sample {
  const r = createRng(seed);
  const n = z * y * x;
  const image = new Float32Array(2 * n);
  const seg = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    image[i] = r.next();
    image[n + i] = i;
    seg[i] = image[i]! > 0.8 ? 2 : image[i]! > 0.5 ? 1 : 0;
  }
  return { image, seg, shape: [2, z, y, x] };
}

describe('createRng', () => {
  it('is deterministic and resumable from its state', () => {
    const a = createRng(42);
    const b = createRng(42);
    expect([a.next(), a.normal(), a.int(0, 10)]).toEqual([b.next(), b.normal(), b.int(0, 10)]);
    a.normal();
    const st = a.getState();
    const seq = [a.normal(), a.next(), a.uniform(2, 3)];
    const c = createRng(0);
    c.setState(st);
    expect([c.normal(), c.next(), c.uniform(2, 3)]).toEqual(seq);
  });
});

describe('mirror', () => {
  it('flips image and seg consistently and never flips an excluded axis (B35)', () => {
    const s0 = makeSample(3, 4, 5);
    const t = mirror({ axes: [0, 1], dims: 3 });
    const rng = createRng(3);
    let flippedSomething = 0;
    for (let k = 0; k < 20; k++) {
      const s = makeSample(3, 4, 5);
      const p = t.getParameters(s, rng);
      if (!p) continue;
      flippedSomething++;
      expect(p.axes).not.toContain(2);
      const out = t.apply(s, p);
      for (let i = 0; i < 60; i++) {
        const v = out.image[i]!;
        expect(out.seg![i]).toBe(v > 0.8 ? 2 : v > 0.5 ? 1 : 0);
        // channel 1 holds the flat index: x of the source equals x of the target
        expect(out.image[60 + i]! % 5).toBe(i % 5);
      }
      // applying the same flip again restores the input
      const back = t.apply(out, p);
      expect(back.image).toEqual(s0.image);
      expect(back.seg).toEqual(s0.seg);
    }
    expect(flippedSomething).toBeGreaterThan(5);
  });

  it('uses patch axes [y, x] in 2D on z = 1 samples', () => {
    const s = makeSample(1, 2, 3);
    const out = mirror({ axes: [1], dims: 2 }).apply(s, { axes: [2] });
    expect(Array.from(out.image.subarray(6, 12))).toEqual([2, 1, 0, 5, 4, 3]);
  });
});

describe('spatial transform', () => {
  it('without rotation/scale is an exact centre crop, and pads data 0 / seg -1 when smaller', () => {
    const s = makeSample(6, 7, 8);
    const out = resampleAffine(s, [4, 4, 4], null);
    expect(out.shape).toEqual([2, 4, 4, 4]);
    // offset floor((6-4)/2)=1, floor((7-4)/2)=1, floor((8-4)/2)=2
    expect(out.image[64]).toBe((1 * 7 + 1) * 8 + 2);
    const padded = resampleAffine(makeSample(2, 2, 2), [4, 2, 2], null);
    expect(Array.from(padded.seg!.subarray(0, 4))).toEqual([-1, -1, -1, -1]);
    expect(padded.image[0]).toBe(0);
  });

  it('identity matrix reproduces the crop; a 90 degree in-plane rotation permutes voxels exactly', () => {
    const s = makeSample(1, 5, 5);
    const crop = resampleAffine(makeSample(1, 5, 5), [1, 5, 5], null);
    const id = resampleAffine(makeSample(1, 5, 5), [1, 5, 5], [1, 0, 0, 0, 1, 0, 0, 0, 1]);
    expect(id.image).toEqual(crop.image);
    expect(id.seg).toEqual(crop.seg);
    const rot = resampleAffine(s, [1, 5, 5], [1, 0, 0, 0, 0, -1, 0, 1, 0]);
    // output (y, x) reads input (2 - (x - 2), 2 + (y - 2)) = (4 - x, y)
    for (let y = 0; y < 5; y++) for (let x = 0; x < 5; x++) expect(rot.image[25 + y * 5 + x]).toBeCloseTo((4 - x) * 5 + y, 4);
  });

  it('keeps seg values in the input set (plus -1 outside) under random rotation and scaling', () => {
    const t = spatialTransform({ patchSize: [6, 6, 6], rotation: [-0.5, 0.5], pRotation: 1, pScaling: 1, inPlaneOnly: false });
    const rng = createRng(9);
    for (let k = 0; k < 5; k++) {
      const out = t.apply(makeSample(10, 10, 10, k), t.getParameters(makeSample(1, 1, 1), rng)!);
      expect(out.shape).toEqual([2, 6, 6, 6]);
      for (const v of out.seg!) expect([-1, 0, 1, 2]).toContain(v);
    }
  });
});

describe('intensity transforms', () => {
  it('gamma keeps mean and std; contrast keeps the range', () => {
    const s = makeSample(4, 4, 4);
    const before = meanStd(s.image.subarray(0, 64));
    const g = gamma({ p: 1, invert: true });
    g.apply(s, { factors: [1.4, null] });
    const after = meanStd(s.image.subarray(0, 64));
    expect(after.mean).toBeCloseTo(before.mean, 5);
    expect(after.std).toBeCloseTo(before.std, 5);
    const c = makeSample(4, 4, 4);
    contrast().apply(c, { factors: [1.25, 0.75] });
    expect(Math.max(...c.image.subarray(64))).toBeLessThanOrEqual(63);
  });

  it('blur and low-resolution leave constant images constant', () => {
    const s: Sample = { image: new Float32Array(5 * 6 * 7).fill(3), shape: [1, 5, 6, 7] };
    gaussianBlur().apply(s, { sigmas: [[1, 0.5, 0.7]] });
    simulateLowResolution().apply(s, { scales: [0.6] });
    for (const v of s.image) expect(v).toBeCloseTo(3, 5);
  });

  it('removeLabel maps -1 to 0 only', () => {
    const s: Sample = { image: new Float32Array(3), seg: Int16Array.from([-1, 2, 0]), shape: [1, 1, 1, 3] };
    expect(Array.from(removeLabel().apply(s, true).seg!)).toEqual([0, 2, 0]);
  });
});

describe('nnUNetDefault', () => {
  it('registers, yields patch-sized deterministic samples with labels from the input set', () => {
    const reg = new Registry();
    registerDefaults(reg);
    expect(reg.names('augmentation')).toEqual(['nnUNetDefault', 'nnUNetNoDA', 'mirrorOnly']);
    const patch = [8, 8, 8];
    const st = daSettings(patch);
    expect(st.initialPatchSize).toEqual([12, 12, 12]);
    const tr = nnUNetDefault.create({ patchSize: patch, dims: 3, mirrorAxes: [0, 1, 2], doDummy2D: false });
    const run = (seed: number) => {
      const rng = createRng(seed);
      return Array.from({ length: 6 }, (_, k) => applyTransforms(tr, makeSample(12, 12, 12, k), rng));
    };
    const a = run(5);
    expect(run(5)).toEqual(a);
    for (const s of a) {
      expect(s.shape).toEqual([2, 8, 8, 8]);
      for (const v of s.seg!) expect([0, 1, 2]).toContain(v);
    }
  });

  it('works on 2D samples (z = 1)', () => {
    const tr = nnUNetDefault.create({ patchSize: [6, 6], dims: 2, mirrorAxes: [0, 1], doDummy2D: false });
    const rng = createRng(1);
    for (let k = 0; k < 10; k++) {
      const s = applyTransforms(tr, makeSample(1, 10, 10, k), rng);
      expect(s.shape).toEqual([2, 1, 6, 6]);
    }
  });
});

describe('Compose', () => {
  it('draws and applies like applyTransforms', async () => {
    const { Compose } = await import('./compose.js');
    const tr = nnUNetDefault.create({ patchSize: [6, 6, 6], dims: 3, mirrorAxes: [0, 1, 2], doDummy2D: false });
    const c = new Compose(tr);
    for (let seed = 0; seed < 5; seed++) {
      const r1 = createRng(seed);
      const r2 = createRng(seed);
      const a = applyTransforms(tr, makeSample(10, 10, 10, seed), r1);
      const s = makeSample(10, 10, 10, seed);
      const b = c.apply(s, c.getParameters(s, r2));
      expect(b).toEqual(a);
    }
  });
});

describe('maskImage', () => {
  it('zeros masked channels where seg < 0 and is added for use_mask_for_norm channels', async () => {
    const { maskImage } = await import('./intensity.js');
    const s: Sample = { image: Float32Array.from([1, 2, 3, 4, 5, 6]), seg: Int16Array.from([-1, 0, 1]), shape: [2, 1, 1, 3] };
    expect(Array.from(maskImage([1]).apply(s, true).image)).toEqual([1, 2, 3, 0, 5, 6]);
    const names = (m?: boolean[]) => nnUNetDefault.create({ patchSize: [4, 4, 4], dims: 3, mirrorAxes: [], doDummy2D: false, useMaskForNorm: m } as never).map((t) => t.name);
    expect(names([false, true])).toContain('MaskImageTransform');
    expect(names([false])).not.toContain('MaskImageTransform');
  });
});

describe('gaussianKernel1d', () => {
  it('has batchgeneratorsv2 sizes (odd nearest to 6 sigma + 0.5) and sums to 1', async () => {
    const { gaussianKernel1d } = await import('./blur.js');
    expect([0.5, 0.75, 1.0].map((s) => gaussianKernel1d(s).length)).toEqual([3, 5, 7]);
    const k = gaussianKernel1d(0.8);
    expect(k.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6);
    expect(k[0]).toBeCloseTo(k[k.length - 1]!, 7);
  });
});
