import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { Plans } from '../contracts/plans.js';
import { Registry } from '../registry/registry.js';
import { exportPrediction } from './export-prediction.js';
import { preprocessCase } from './preprocess-case.js';
import { registerPreprocessingDefaults } from './register.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '__fixtures__');
const ref = JSON.parse(readFileSync(join(dir, 'case.json'), 'utf8'));
const load = <T>(name: string, C: new (b: ArrayBuffer) => T): T => {
  const b = readFileSync(join(dir, name));
  return new C(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
};

describe('preprocessCase against a numpy/scipy/skimage re-run of nnU-Net run_case_npy (generate_case.py)', () => {
  it('anisotropic two-channel case: bbox, shapes, data, seg and class locations', () => {
    const registry = new Registry();
    registerPreprocessingDefaults(registry);
    const plans = {
      dataset_name: 'ref', plans_name: 'nnUNetPlans', transpose_forward: [0, 1, 2], transpose_backward: [0, 1, 2],
      foreground_intensity_properties_per_channel: { '1': ref.ct },
      configurations: { '3d_fullres': {
        spacing: ref.target, normalization_schemes: ['ZScoreNormalization', 'CTNormalization'],
        use_mask_for_norm: [true, false],
      } },
    } as unknown as Plans;
    const r = preprocessCase({ image: load('case_image.bin', Float32Array), shape: ref.shape, spacing: ref.spacing,
      seg: load('case_seg.bin', Int16Array) }, plans, '3d_fullres', registry, { labels: [1, 2] });
    expect(r.properties.bbox_used_for_cropping).toEqual(ref.bbox);
    expect(r.properties.shape_after_cropping_and_before_resampling).toEqual(ref.shape_after_crop);
    expect(r.shape).toEqual([2, ...ref.new_shape]);
    const want = load('case_out_data.bin', Float32Array);
    let maxDiff = 0;
    let lo = Infinity, hi = -Infinity;
    for (let i = 0; i < want.length; i++) {
      maxDiff = Math.max(maxDiff, Math.abs(r.data[i]! - want[i]!));
      lo = Math.min(lo, want[i]!);
      hi = Math.max(hi, want[i]!);
    }
    expect(maxDiff).toBeLessThan(1e-4 * (hi - lo));
    expect([...r.seg!]).toEqual([...load('case_out_seg.bin', Int16Array)]);
    expect(r.properties.class_locations).toEqual(ref.class_locations);
    // export: random logits back to the original grid (separate z, order 1, softmax, argmax, bbox paste)
    const logits = load('case_logits.bin', Float32Array);
    // the default export resamples the separate z axis with nnU-Net's order_z 0 (no option passed)
    const out = exportPrediction(logits, [3, ...ref.new_shape], r.properties, plans, '3d_fullres', registry);
    const wantSeg = load('case_export_seg.bin', Int16Array);
    let mismatches = 0;
    for (let i = 0; i < wantSeg.length; i++) if (out.seg[i] !== wantSeg[i]) mismatches++;
    expect(mismatches).toBe(0);
  });
});
