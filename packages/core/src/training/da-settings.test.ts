import { describe, expect, it } from 'vitest';
import { daSettings, getPatchSize, isDummy2D, rotationRange } from './da-settings.js';

describe('augmentation settings (RULES.md §17)', () => {
  it('initial patch sizes equal batchgenerators get_patch_size (values from numpy)', () => {
    const r30 = (30 / 180) * Math.PI;
    expect(getPatchSize([40, 56, 40], r30, [0.85, 1.25])).toEqual([73, 80, 64]);
    expect(getPatchSize([128, 128, 128], r30, [0.85, 1.25])).toEqual([205, 205, 205]);
    expect(getPatchSize([56, 40], Math.PI, [0.85, 1.25])).toEqual([65, 65]);
    expect(getPatchSize([64, 192], (15 / 180) * Math.PI, [0.85, 1.25])).toEqual([131, 225]);
  });

  it('rotation ranges, dummy 2D and mirror axes', () => {
    expect(rotationRange([56, 40], false)[1]).toBeCloseTo(Math.PI);
    expect(rotationRange([64, 192], false)[1]).toBeCloseTo(Math.PI / 12);
    expect(rotationRange([40, 56, 40], false)[1]).toBeCloseTo(Math.PI / 6);
    expect(isDummy2D([10, 64, 64])).toBe(true);
    expect(isDummy2D([40, 56, 40])).toBe(false);
    const d = daSettings([10, 64, 64], { excludedMirrorAxes: [2] });
    expect(d.doDummy2D).toBe(true);
    expect(d.rotation[1]).toBeCloseTo(Math.PI);
    expect(d.initialPatchSize[0]).toBe(10);
    expect(d.mirrorAxes).toEqual([0, 1]);
    expect(daSettings([8, 8, 8], { spatial: false }).initialPatchSize).toEqual([8, 8, 8]);
  });
});
