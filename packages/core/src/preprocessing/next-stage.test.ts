import { describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.js';
import { resampleLogitsForNextStage } from './export-prediction.js';
import { registerPreprocessingDefaults } from './register.js';
import { makePlans } from './__fixtures__/small-case.js';
import type { CaseProperties } from './types.js';

const registry = new Registry();
registerPreprocessingDefaults(registry);

/** Plans with a 3d_lowres configuration of the given spacing (probabilities: order 1, order_z 0, as nnU-Net's). */
function lowresPlans(spacing: number[]) {
  const plans = makePlans();
  plans.configurations['3d_lowres'] = { inherits_from: '3d_fullres', spacing };
  return plans;
}

/** Two classes on a [4, 2, 2] grid: background logit 0, class 1 logit z - 1.2 (-1.2, -0.2, 0.8, 1.8 along z). */
function zRampLogits(): { logits: Float32Array; shape: number[] } {
  const logits = new Float32Array(2 * 16);
  for (let z = 0; z < 4; z++) for (let i = 0; i < 4; i++) logits[16 + z * 4 + i] = z - 1.2;
  return { logits, shape: [2, 4, 2, 2] };
}

const props = (spacing: number[]) => ({ spacing }) as unknown as CaseProperties;
const alongZ = (seg: Int16Array, Z: number, plane: number) => Array.from({ length: Z }, (_, z) => seg[z * plane]);

describe('resampleLogitsForNextStage (nnU-Net resample_and_save: the lowres logits resampled once onto the cascade grid)', () => {
  it('an anisotropic lowres spacing resamples its low-resolution axis with order_z 0 (nearest), then argmax', () => {
    const { logits, shape } = zRampLogits();
    const seg = resampleLogitsForNextStage(logits, shape, [8, 4, 4], props([4, 1, 1]), lowresPlans([4, 1, 1]), '3d_lowres', registry);
    expect(seg).toBeInstanceOf(Int16Array);
    expect(seg.length).toBe(8 * 16);
    // target slice j samples source z = j/2 - 0.25; nearest: slice 3 -> z 1 (logit -0.2): background
    expect(alongZ(seg, 8, 16)).toEqual([0, 0, 0, 0, 1, 1, 1, 1]);
  });

  it("the lowres spacing is both current and target spacing (nnU-Net), so an isotropic one is linear in z whatever the case's spacing", () => {
    const { logits, shape } = zRampLogits();
    // the case itself is 4 x 1 x 1 mm (export to the original grid would resample z separately); the lowres grid is 2 mm isotropic
    const seg = resampleLogitsForNextStage(logits, shape, [8, 4, 4], props([4, 1, 1]), lowresPlans([2, 2, 2]), '3d_lowres', registry);
    // linear: slice 3 samples z 1.25 -> -0.2 + 0.25 = 0.05 > 0: class 1
    expect(alongZ(seg, 8, 16)).toEqual([0, 0, 0, 1, 1, 1, 1, 1]);
  });

  it('same shape: argmax of the logits as they are (first maximum wins)', () => {
    const logits = Float32Array.from([0, 1, 2, 0, /* class 1 */ 1, 1, 0, -1, /* class 2 */ -1, 0.5, 2, 3]);
    const seg = resampleLogitsForNextStage(logits, [3, 1, 2, 2], [1, 2, 2], props([1, 1, 1]), lowresPlans([1, 1, 1]), '3d_lowres', registry);
    expect(Array.from(seg)).toEqual([1, 0, 0, 2]);
  });

  it('region-based models: regions_class_order where the region logit is > 0 (sigmoid > 0.5), later regions win', () => {
    const logits = Float32Array.from([1, 1, -1, -1, /* region 2 */ -1, 2, 2, -3]);
    const seg = resampleLogitsForNextStage(logits, [2, 1, 2, 2], [1, 2, 2], props([1, 1, 1]), lowresPlans([1, 1, 1]), '3d_lowres', registry, [1, 2]);
    expect(Array.from(seg)).toEqual([1, 2, 2, 0]);
  });

  it('refuses logits of another size and a regions list of another length', () => {
    const plans = lowresPlans([1, 1, 1]);
    expect(() => resampleLogitsForNextStage(new Float32Array(5), [2, 1, 2, 2], [1, 2, 2], props([1, 1, 1]), plans, '3d_lowres', registry)).toThrow(/logits length 5/);
    expect(() => resampleLogitsForNextStage(new Float32Array(8), [2, 1, 2, 2], [1, 2, 2], props([1, 1, 1]), plans, '3d_lowres', registry, [1])).toThrow(/2 outputs for 1 regions/);
  });
});
