import { describe, expect, it } from 'vitest';
import type { Sample, Transform } from '../contracts/augmentation.js';
import { Registry } from '../registry/registry.js';
import { CASCADE_AUGMENTATION, PREVIOUS_STAGE_KEY, appendPreviousStage, cascadeTransformsFrom } from './cascade.js';
import { createRng } from './rng.js';
import { augmentSample, validationSample, type TrainingContext } from './trainer-setup.js';

/** One-hot move as net-cascade's (registered under the plugin name core looks up). */
function oneHot(labels: number[]): Transform {
  return {
    name: 'MoveSegAsOneHotToDataTransform',
    getParameters: () => ({}),
    apply(s: Sample): Sample {
      const seg = s.properties![PREVIOUS_STAGE_KEY] as Int16Array;
      const n = seg.length;
      const image = new Float32Array(s.image.length + labels.length * n);
      image.set(s.image);
      labels.forEach((l, c) => seg.forEach((v, i) => (image[s.image.length + c * n + i] = v === l ? 1 : 0)));
      return { ...s, image, shape: [s.shape[0]! + labels.length, ...s.shape.slice(1)] };
    },
  };
}

/** Flips x of image and seg (a geometric transform, replayed on the previous-stage seg). */
const flipX: Transform<true> = {
  name: 'MirrorTransform',
  targets: ['image', 'segmentation', 'previousStageSegmentation'],
  getParameters: () => true,
  apply(s: Sample): Sample {
    const [C, Z, Y, X] = s.shape as [number, number, number, number];
    const f = <T extends Float32Array | Int16Array>(a: T, c: number): T => {
      const out = a.slice() as T;
      for (let k = 0; k < c * Z * Y; k++) for (let x = 0; x < X; x++) out[k * X + x] = a[k * X + X - 1 - x]!;
      return out;
    };
    return { ...s, image: f(s.image, C), seg: s.seg ? f(s.seg, 1) : undefined };
  },
};

/** Adds 1000 to the image (an intensity transform: must not touch the previous-stage seg). */
const brighten: Transform<true> = { name: 'Brightness', getParameters: () => true, apply: (s) => ({ ...s, image: s.image.map((v) => v + 1000) }) };

describe('cascade training samples', () => {
  const reg = new Registry();
  reg.register('augmentation', { name: CASCADE_AUGMENTATION, create: (o) => [oneHot(o.foregroundLabels!)] });
  const dataset = { channel_names: { '0': 'CT' }, labels: { background: 0, a: 1, b: 2 }, numTraining: 1, file_ending: '.nii.gz' };
  const cascade = cascadeTransformsFrom(reg, dataset, { patchSize: [1, 1, 4], dims: 3, mirrorAxes: [2], doDummy2D: false });
  const ctx = { cascade, transforms: [flipX, brighten] as Transform[], patch3: [1, 1, 4], rngs: { augment: createRng(1) } } as unknown as TrainingContext;
  const sample = (): Sample => ({
    image: Float32Array.of(0, 1, 2, 3),
    seg: Int16Array.of(0, 1, 2, 2),
    shape: [1, 1, 1, 4],
    properties: { [PREVIOUS_STAGE_KEY]: Int16Array.of(0, 1, 2, 0) },
  });

  it('foreground labels exclude background; the one-hot is found in the plugin list', () => {
    expect(cascade.labels).toEqual([1, 2]);
    expect(cascade.oneHot.name).toBe('MoveSegAsOneHotToDataTransform');
    const r = appendPreviousStage(cascade, Float32Array.of(5, 6), [1, 1, 1, 2], Int16Array.of(2, 1));
    expect(r.shape).toEqual([3, 1, 1, 2]);
    expect(Array.from(r.data)).toEqual([5, 6, 0, 1, 1, 0]);
  });

  it('the previous-stage seg follows geometric transforms only, then becomes one-hot channels', () => {
    const out = augmentSample(ctx, sample());
    expect(out.shape).toEqual([3, 1, 1, 4]);
    expect(Array.from(out.image.subarray(0, 4))).toEqual([1003, 1002, 1001, 1000]);
    expect(Array.from(out.seg!)).toEqual([2, 2, 1, 0]);
    expect(Array.from(out.image.subarray(4, 8))).toEqual([0, 0, 1, 0]); // label 1, flipped like the image
    expect(Array.from(out.image.subarray(8, 12))).toEqual([0, 1, 0, 0]); // label 2
  });

  it('validation samples get the one-hot unchanged', () => {
    const out = validationSample(ctx, sample());
    expect(Array.from(out.image)).toEqual([0, 1, 2, 3, 0, 1, 0, 0, 0, 0, 1, 0]);
  });
});
