import { describe, expect, it } from 'vitest';
import type { DatasetJson } from '../contracts/plans.js';
import { labelManager } from '../dataset/label-manager.js';
import { exportPrediction } from '../preprocessing/export-prediction.js';
import { makePlans } from '../preprocessing/__fixtures__/small-case.js';
import { registerPreprocessingDefaults } from '../preprocessing/register.js';
import { Registry } from '../registry/registry.js';
import { labelSetup } from './configuration.js';
import { regionConfusionCounts } from './targets.js';

/** BraTS-style region labels (nnU-Net's Dataset137 layout): whole tumor, tumor core, enhancing tumor. */
const brats: DatasetJson = {
  channel_names: { 0: 'FLAIR', 1: 'T1c' }, numTraining: 6, file_ending: '.nii.gz',
  labels: { background: 0, 'whole tumor': [1, 2, 3, 4], 'tumor core': [1, 3, 4], 'enhancing tumor': [4] },
  regions_class_order: [2, 1, 4],
};

describe('region-based labels (nnU-Net LabelManager)', () => {
  it('regions give one sigmoid head each, in dataset.json order', () => {
    const lm = labelManager(brats);
    expect(lm.hasRegions).toBe(true);
    expect(lm.foregroundRegions).toEqual([[1, 2, 3, 4], [1, 3, 4], [4]]);
    expect(lm.regionsClassOrder).toEqual([2, 1, 4]);
    expect(lm.allLabels).toEqual([0, 1, 2, 3, 4]);
    expect(labelSetup(brats)).toEqual({ numClasses: 3, labels: [0, 1, 2, 3, 4], regions: [[1, 2, 3, 4], [1, 3, 4], [4]], ignoreLabel: undefined });
    // a one-value list is a plain label, not a region (nnU-Net: len > 1)
    expect(labelManager({ ...brats, labels: { background: 0, a: [1], b: 2 }, regions_class_order: undefined }).hasRegions).toBe(false);
  });

  it('regions without a matching regions_class_order are refused, naming the file', () => {
    expect(() => labelManager({ ...brats, regions_class_order: [1, 2] }, 'x/dataset.json'))
      .toThrow(/x\/dataset.json: region-based labels need "regions_class_order" with one label per region \(3\), got \[1,2\]/);
  });

  it('pseudo Dice counts: region r predicted where its logit > 0, true where the label is in it; ignore excluded', () => {
    // 1 case, 3 regions, 4 voxels with labels 0, 2, 4, 5 (5 = ignore)
    const logits = Float32Array.from([
      -1, 2, 3, 4, // whole tumor: predicted on voxels 1..3
      -1, -2, 3, 4, // tumor core: predicted on 2, 3
      1, -2, -3, 4, // enhancing: predicted on 0, 3
    ]);
    const c = regionConfusionCounts(logits, [1, 3, 4, 1, 1], Int16Array.of(0, 2, 4, 5), [[1, 2, 3, 4], [1, 3, 4], [4]], 5);
    expect(c).toEqual({ tp: [2, 1, 0], fp: [0, 0, 1], fn: [0, 0, 1] });
  });
});

describe('export of region-based predictions (sigmoid, regions_class_order)', () => {
  const registry = new Registry();
  registerPreprocessingDefaults(registry);
  // preprocessed grid = cropped grid 1 x 2 x 3 inside an original 3 x 2 x 3 (crop box z 1..2), no resampling
  const properties = {
    spacing: [2, 1, 1], shape_before_cropping: [3, 2, 3], bbox_used_for_cropping: [[1, 2], [0, 2], [0, 3]] as [number, number][],
    shape_after_cropping_and_before_resampling: [1, 2, 3],
  };
  const plans = makePlans();
  const logits = Float32Array.from([
    -5, 1, 1, 1, 1, 1, // whole tumor
    -5, -1, 1, 1, 1, -1, // tumor core
    -5, -1, -1, 2, -1, 0, // enhancing (0: p = 0.5, not > 0.5)
  ]);

  it('later regions overwrite earlier ones; probabilities are sigmoids, 0 outside the crop box', () => {
    const r = exportPrediction(logits, [3, 1, 2, 3], properties, plans, '3d_fullres', registry, { returnProbabilities: true, regionsClassOrder: [2, 1, 4] });
    expect(Array.from(r.seg)).toEqual([0, 0, 0, 0, 0, 0, 0, 2, 1, 4, 1, 2, 0, 0, 0, 0, 0, 0]);
    const p = r.probabilities!;
    expect(p.length).toBe(3 * 18);
    expect(p[6 + 1]).toBeCloseTo(1 / (1 + Math.exp(-1)), 6);
    expect(p[2 * 18 + 6 + 5]).toBeCloseTo(0.5, 6);
    expect(p[0]).toBe(0); // outside the crop box: every region 0 (no background channel set to 1)
    const noProbs = exportPrediction(logits, [3, 1, 2, 3], properties, plans, '3d_fullres', registry, { regionsClassOrder: [2, 1, 4] });
    expect(Array.from(noProbs.seg)).toEqual(Array.from(r.seg));
  });
});
