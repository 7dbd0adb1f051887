import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { computeNewShape, determineSeparateZAxis, roundShapeValue } from './shape.js';
import { resampleData, resampleSeg, defaultResampler } from './default-resampler.js';
import { uniqueLabels } from './seg.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '__fixtures__');
const manifest = JSON.parse(readFileSync(join(dir, 'fixtures.json'), 'utf8')) as {
  data: { name: string; shape: number[]; newShape: number[]; order: number; orderZ: number; separateZAxis: number | null; range: number }[];
  seg: { name: string; shape: number[]; newShape: number[]; order: number; orderZ: number; separateZAxis: number | null }[];
};
const f32 = (name: string) => {
  const b = readFileSync(join(dir, name));
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};
const i16 = (name: string) => {
  const b = readFileSync(join(dir, name));
  return new Int16Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
};

describe('resampleData matches scikit-image resize / nnU-Net separate-z (fixtures from generate.py)', () => {
  for (const fx of manifest.data) {
    it(`${fx.name}: order ${fx.order}, orderZ ${fx.orderZ}, axis ${fx.separateZAxis}`, () => {
      const input = f32(`${fx.name}_in.bin`);
      const want = f32(`${fx.name}_out.bin`);
      const got = resampleData(input, [1, ...fx.shape], fx.newShape, {
        order: fx.order, orderZ: fx.orderZ, separateZAxis: fx.separateZAxis,
      });
      expect(got.length).toBe(want.length);
      let maxDiff = 0;
      for (let i = 0; i < got.length; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
      expect(maxDiff).toBeLessThan(1e-5 * fx.range); // well inside the 1e-3 * range requirement
    });
  }
});

describe('resampleSeg matches resize_segmentation (fixtures)', () => {
  for (const fx of manifest.seg) {
    it(`${fx.name}`, () => {
      const input = i16(`${fx.name}_in.bin`);
      const want = i16(`${fx.name}_out.bin`);
      const got = resampleSeg(input, fx.shape, fx.newShape, {
        order: fx.order, orderZ: fx.orderZ, separateZAxis: fx.separateZAxis,
      });
      let mismatches = 0;
      for (let i = 0; i < got.length; i++) if (got[i] !== want[i]) mismatches++;
      expect(mismatches).toBe(0);
    });
  }
});

describe('label resampling never invents labels (B08)', () => {
  it('2|4 halves resampled to spacing 0.7 stay in {2,4}', () => {
    const n = 12;
    const seg = new Int16Array(n * n * n);
    for (let i = 0; i < seg.length; i++) seg[i] = i % n < n / 2 ? 2 : 4;
    const newShape = computeNewShape([n, n, n], [1, 1, 1], [0.7, 0.7, 0.7]);
    expect(newShape).toEqual([17, 17, 17]);
    const out = defaultResampler().resampleSeg(seg, [n, n, n], newShape, { order: 1, orderZ: 0, separateZAxis: null });
    expect(uniqueLabels(out)).toEqual([2, 4]);
  });
  it('three labels meeting at a corner without a 0 label get an input label, not 0', () => {
    const seg = new Int16Array(8);
    seg.set([1, 2, 3, 1, 2, 3, 1, 2]);
    const out = resampleSeg(seg, [2, 2, 2], [3, 3, 3], { order: 1, orderZ: 0, separateZAxis: null });
    for (const v of out) expect([1, 2, 3]).toContain(v);
  });
});

describe('shapes and separate-z rule (RULES.md §13)', () => {
  it('rounds like Python round() and ignores float32 spacing noise (ghost slice, B25)', () => {
    expect(computeNewShape([3, 3, 3], [Math.fround(0.45), 1, 1], [0.45, 1, 1])).toEqual([3, 3, 3]);
    expect(computeNewShape([3, 3, 3], [0.45, 1, 1], [Math.fround(0.45), 1, 1])).toEqual([3, 3, 3]);
    expect(roundShapeValue(2.5)).toBe(2);
    expect(roundShapeValue(3.5)).toBe(4);
    expect(roundShapeValue(2.5000001)).toBe(2);
    expect(roundShapeValue(2.51)).toBe(3);
    expect(computeNewShape([100, 200, 200], [2.5, 0.7, 0.7], [1.25, 1, 1])).toEqual([200, 140, 140]);
  });
  it('determines the low-resolution axis', () => {
    expect(determineSeparateZAxis([5, 1, 1], [1, 1, 1])).toBe(0);
    expect(determineSeparateZAxis([3, 1, 1], [1, 1, 1])).toBe(null); // ratio 3 is not > 3
    expect(determineSeparateZAxis([1, 1, 1], [1, 4, 1])).toBe(1);
    expect(determineSeparateZAxis([4, 4, 1], [1, 1, 1])).toBe(null); // two tied axes
    expect(determineSeparateZAxis([Math.fround(4.1), 4.1, 1], [1, 1, 1])).toBe(null);
  });
});
