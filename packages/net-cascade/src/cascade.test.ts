import { describe, expect, it } from 'vitest';
import { InitRng, Registry, forwardHost, referenceBackend, type Rng, type Sample } from '@nnunet-ts/core';
import { archSpec } from '@nnunet-ts/net-unet3d';
import {
  applyRandomBinaryOperatorTransform,
  binaryDilation,
  binaryErosion,
  cascadeInputChannels,
  cascadeTransforms,
  connectedComponents,
  moveSegAsOneHotToDataTransform,
  oneHotPreviousStage,
  registerDefaults,
  removeRandomConnectedComponentTransform,
} from './index.js';

function testRng(seed: number): Rng {
  const r = new InitRng(seed);
  return { next: () => r.next(), uniform: (a, b) => a + (b - a) * r.next(), int: (a, b) => a + Math.floor(r.next() * (b - a)), normal: () => r.normal() };
}

/** Brute-force ball morphology for comparison. */
function brute(mask: Uint8Array, [D, H, W]: number[], r: number, dilate: boolean): Uint8Array {
  const out = new Uint8Array(mask.length);
  for (let z = 0; z < D!; z++)
    for (let y = 0; y < H!; y++)
      for (let x = 0; x < W!; x++) {
        let any = false;
        let all = true;
        for (let a = -r; a <= r; a++)
          for (let b = -r; b <= r; b++)
            for (let c = -r; c <= r; c++) {
              if (a * a + b * b + c * c > r * r) continue;
              const zz = z + a, yy = y + b, xx = x + c;
              if (zz < 0 || zz >= D! || yy < 0 || yy >= H! || xx < 0 || xx >= W!) continue;
              const v = mask[(zz * H! + yy) * W! + xx]!;
              any ||= v === 1;
              all &&= v === 1;
            }
        out[(z * H! + y) * W! + x] = (dilate ? any : all) ? 1 : 0;
      }
  return out;
}

describe('one-hot previous stage (RULES.md §10)', () => {
  it('encodes each foreground label as a channel', () => {
    const oh = oneHotPreviousStage(Int16Array.of(0, 1, 2, 2), [1, 2, 2], [1, 2]);
    expect(Array.from(oh)).toEqual([0, 1, 0, 0, 0, 0, 1, 1]);
    expect(cascadeInputChannels(1, [1, 2])).toBe(3);
    expect(() => oneHotPreviousStage(Int16Array.of(0), [1, 2, 2], [1])).toThrow(/voxels/);
  });

  it('MoveSegAsOneHotToData appends channels and removes the property', () => {
    const t = moveSegAsOneHotToDataTransform([1, 2]);
    const s: Sample = { image: Float32Array.of(5, 6), shape: [1, 1, 1, 2], properties: { previousStageSeg: Int16Array.of(2, 0) } };
    const out = t.apply(s, t.getParameters(s, testRng(0))!);
    expect(out.shape).toEqual([3, 1, 1, 2]);
    expect(Array.from(out.image)).toEqual([5, 6, 0, 0, 1, 0]);
    expect(out.properties!.previousStageSeg).toBeUndefined();
  });
});

describe('morphology (linear-time, exact)', () => {
  for (const [shape, r] of [[[5, 6, 7], 1], [[6, 5, 6], 2], [[1, 9, 8], 3], [[7, 7, 7], 3]] as [number[], number][])
    it(`dilation / erosion equal brute force, shape ${shape}, r ${r}`, () => {
      const rng = new InitRng(r * 7 + shape[0]!);
      const m = Uint8Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (rng.next() < 0.15 ? 1 : 0));
      expect(Array.from(binaryDilation(m, shape, r))).toEqual(Array.from(brute(m, shape, r, true)));
      const dense = Uint8Array.from(m, (v, i) => (v || i % 5 ? 1 : 0));
      expect(Array.from(binaryErosion(dense, shape, r))).toEqual(Array.from(brute(dense, shape, r, false)));
    });

  it('a single voxel dilated with r = 1 is the 7-voxel ball; empty stays empty', () => {
    const m = new Uint8Array(27);
    m[13] = 1;
    expect(binaryDilation(m, [3, 3, 3], 1).reduce((a, b) => a + b, 0)).toBe(7);
    expect(binaryDilation(new Uint8Array(27), [3, 3, 3], 2).reduce((a, b) => a + b, 0)).toBe(0);
  });

  it('connected components use full connectivity', () => {
    const m = Uint8Array.of(1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1); // (0,0) and (1,1) touch diagonally
    const { labels, sizes } = connectedComponents(m, [1, 4, 4]);
    expect(sizes).toEqual([2, 1]);
    expect(labels[0]).toBe(labels[5]);
    expect(labels[15]).toBe(2);
  });
});

describe('low-res seg augmentations', () => {
  const shape = [2, 3, 5, 5];
  function sample(): Sample {
    const n = 75;
    const img = new Float32Array(2 * n);
    img[(1 * 5 + 2) * 5 + 2] = 1; // channel 0: one voxel in the centre of slice 1
    for (let v = 0; v < n; v++) if (!img[v]) img[n + v] = v % 2; // channel 1 elsewhere on odd voxels
    return { image: img, shape };
  }

  it('binary operator: dilation grows a channel and clears the added voxels from the others', () => {
    const t = applyRandomBinaryOperatorTransform({ channels: [0, 1] });
    const s = sample();
    const out = t.apply(s, { channels: [0], ops: ['dilation'], radii: [1] });
    const ch0 = out.image.subarray(0, 75);
    const ch1 = out.image.subarray(75);
    expect(ch0.reduce((a, b) => a + b, 0)).toBe(7);
    for (let v = 0; v < 75; v++) expect(ch0[v]! * ch1[v]!).toBe(0);
  });

  it('binary operator parameters: p 0.4 per sample, radii in 1..8, channels subset', () => {
    const t = applyRandomBinaryOperatorTransform({ channels: [-2, -1] });
    const rng = testRng(3);
    let ran = 0;
    for (let i = 0; i < 500; i++) {
      const p = t.getParameters(sample(), rng);
      if (!p) continue;
      ran++;
      for (const r of p.radii) expect(r >= 1 && r <= 8 && Number.isInteger(r)).toBe(true);
      for (const c of p.channels) expect([0, 1]).toContain(c);
    }
    expect(ran / 500).toBeGreaterThan(0.33);
    expect(ran / 500).toBeLessThan(0.47);
  });

  it('component removal removes only components below 15% of the patch', () => {
    const n = 75;
    const img = new Float32Array(2 * n);
    img[0] = 1; // small component in channel 0
    for (let v = 40; v < 75; v++) img[v] = 1; // large component (35 voxels > 11.25)
    const t = removeRandomConnectedComponentTransform({ channels: [0, 1] });
    const out = t.apply({ image: img, shape }, { channels: [0], pick: [0.99], fillWith: [null] });
    expect(out.image[0]).toBe(0);
    expect(out.image.subarray(40, 75).every((v) => v === 1)).toBe(true);
  });

  it("component removal parameters: p 0.2 per sample and p_per_label 0.5 per one-hot channel, as nnU-Net's trainer", () => {
    const t = removeRandomConnectedComponentTransform({ channels: [-3, -2, -1] });
    const rng = testRng(11);
    let ran = 0;
    let chosen = 0;
    for (let i = 0; i < 2000; i++) {
      const p = t.getParameters({ image: new Float32Array(3 * 75), shape: [3, ...shape.slice(1)] }, rng);
      if (!p) continue;
      ran++;
      chosen += p.channels.length;
      for (const c of p.channels) expect([0, 1, 2]).toContain(c);
      expect(p.fillWith.every((f) => f === null)).toBe(true);
    }
    expect(ran / 2000).toBeGreaterThan(0.17);
    expect(ran / 2000).toBeLessThan(0.23);
    expect(chosen / (3 * ran)).toBeGreaterThan(0.43);
    expect(chosen / (3 * ran)).toBeLessThan(0.57);
  });

  it('cascadeTransforms builds the three in order', () => {
    expect(cascadeTransforms([1, 2]).map((t) => t.name)).toEqual([
      'MoveSegAsOneHotToDataTransform',
      'ApplyRandomBinaryOperatorTransform',
      'RemoveRandomConnectedComponentFromOneHotEncodingTransform',
    ]);
  });
});

describe('nnUNetCascadePreviousStage augmentation plugin', () => {
  it('is registered and builds the cascade transforms for the given labels (core finds the one-hot by name)', () => {
    const reg = new Registry();
    registerDefaults(reg);
    const f = reg.get('augmentation', 'nnUNetCascadePreviousStage');
    const ts = f.create({ patchSize: [4, 4, 4], dims: 3, mirrorAxes: [], doDummy2D: false, foregroundLabels: [1, 2] });
    expect(ts.map((t) => t.name)).toEqual(cascadeTransforms([1, 2]).map((t) => t.name));
    expect(() => f.create({ patchSize: [4, 4, 4], dims: 3, mirrorAxes: [], doDummy2D: false })).toThrow(/foregroundLabels/);
  });
});

describe('PlainConvUNetCascade', () => {
  it('adds numClasses - 1 input channels', () => {
    const reg = new Registry();
    registerDefaults(reg);
    const net = reg.get('network', 'PlainConvUNetCascade', 3).create({
      architecture: archSpec([2, 4], [[3, 3, 3], [3, 3, 3]], [[1, 1, 1], [2, 2, 2]]),
      inputChannels: 1,
      numClasses: 3,
      deepSupervision: false,
      backend: referenceBackend(),
    });
    expect(net.parameters[0]!.shape).toEqual([2, 3, 3, 3, 3]);
    const out = forwardHost(net, { data: new Float32Array(3 * 64).fill(0.5), shape: [1, 3, 4, 4, 4] }, false);
    expect(out[0]!.shape).toEqual([1, 3, 4, 4, 4]);
  });
});
