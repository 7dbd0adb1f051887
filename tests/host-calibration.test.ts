/**
 * Host-work calibration of the cost model (issue 16): the read / preprocess / export / write work per case around the
 * network, timed after a warm-up on a shrunken copy of a representative case, at its own spacing and at the
 * configuration's (the resampling rates apart), cached per machine, and used by the estimates case by case; the
 * estimates count the memory of predicting a large case.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { calibrateHost, costCacheFile, getConfiguration, hostPredictCaseSeconds, hostPredictSeconds, hostRatesFrom, predictCaseBytes, representativeCase, shapeAtConfiguration, transposedShape, type DatasetFingerprint, type DatasetJson, type Plans } from '@nnunet-ts/core';
import { createDefaultRegistry } from '@nnunet-ts/cli';

const dir = mkdtempSync(join(tmpdir(), 'host-cal-'));
beforeAll(() => {
  process.env.NNUNET_TS_CACHE = join(dir, 'cache');
});
afterAll(() => {
  delete process.env.NNUNET_TS_CACHE;
  rmSync(dir, { recursive: true, force: true });
});

const dataset: DatasetJson = { name: 'AnisoTumour', channel_names: { '0': 'T1c', '1': 'FLAIR' }, labels: { background: 0, oedema: 1, tumour: 2 }, numTraining: 3, file_ending: '.nii.gz' };
const intensity = { mean: 400, median: 400, std: 100, min: 0, max: 1000, percentile_00_5: 20, percentile_99_5: 900 };
const fingerprint: DatasetFingerprint = {
  foreground_intensity_properties_per_channel: { '0': intensity, '1': intensity },
  median_relative_size_after_cropping: 1,
  shapes_after_crop: [[24, 512, 512], [25, 320, 260], [24, 512, 512]],
  spacings: [[6.5, 0.43, 0.43], [6.5, 0.69, 0.69], [6.5, 0.45, 0.45]],
};

describe('calibrateHost on an anisotropic two-channel case (512x512x24 at 0.43 mm, 6.5 mm slices)', () => {
  const registry = createDefaultRegistry();
  let plans: Plans;
  it('times read, preprocess, export and write on the case shrunk on every axis, at its spacing and at the target one, and caches the rates', { timeout: 300_000 }, async () => {
    plans = registry.get('planner', 'nnUNetPlanner').plan(fingerprint, dataset, { datasetName: 'AnisoTumour' });
    const sample = representativeCase(fingerprint)!;
    // the median of 6.3 M, 2.1 M and 6.3 M voxels: a 512x512x24 case, its own spacing
    expect(sample.shape).toEqual([24, 512, 512]);
    const cal = (await calibrateHost({ registry, plans, configuration: '2d', dataset, sample }))!;
    // shrunk by (2e5 / 6.29e6)^(1/3) = 0.3168 on every axis
    expect(cal.sampleShape).toEqual([8, 162, 162]);
    const cfg = getConfiguration(plans, '2d');
    expect(cal.sampleShapeAtConfiguration).toEqual(shapeAtConfiguration(plans, cfg, sample.spacing, cal.sampleShape));
    for (const k of ['read', 'preprocess', 'export', 'write', 'preprocessCase']) {
      expect(cal.parts[k], k).toBeGreaterThan(0);
      expect(cal.parts[`${k}@zoom1`], k).toBeGreaterThan(0);
    }
    // the rates are those of the steady-state step times (the parts): at its own spacing the sample's estimate is the
    // sum of its parts (read and write: the mean of both spacings)
    const own = { read: cal.parts.read!, preprocess: cal.parts.preprocess!, export: cal.parts.export!, write: cal.parts.write!, preprocessCase: cal.parts.preprocessCase! };
    const flat = { read: cal.parts['read@zoom1']!, preprocess: cal.parts['preprocess@zoom1']!, export: cal.parts['export@zoom1']!, write: cal.parts['write@zoom1']!, preprocessCase: cal.parts['preprocessCase@zoom1']! };
    const t = transposedShape(plans, cal.sampleShape);
    // the resamplings timed on their own (as differences of the whole steps they were within the noise of a loaded machine)
    const resampling = { data: cal.parts.resampleData!, probabilities: cal.parts.resampleProbabilities!, seg: cal.parts.resampleSeg! };
    expect(cal.rates).toEqual(hostRatesFrom(own, flat, t, cal.sampleShapeAtConfiguration, 2, 3, resampling));
    // 0.43 mm in-plane to the 2d configuration's spacing: the in-plane axes are resampled, at a measured rate
    expect(cal.sampleShapeAtConfiguration).not.toEqual(t);
    for (const k of ['resampleData', 'resampleProbabilities', 'resampleSeg']) expect(cal.parts[k], k).toBeGreaterThan(0);
    expect(cal.rates.resampleData).toBeGreaterThan(0);
    expect(cal.rates.resampleProbabilities).toBeGreaterThan(0);
    expect(cal.rates.resampleCase).toBeGreaterThan(0);
    for (const r of Object.values(cal.rates)) expect(Number.isFinite(r) && r >= 0).toBe(true);
    // what the first (warm-up) pass took over the steady ones: paid once per prediction stage
    expect(cal.predictWarmupSeconds).toBeGreaterThanOrEqual(0);
    // cached per machine: the same entry again, in costmodel.json
    const again = (await calibrateHost({ registry, plans, configuration: '2d', dataset, sample }))!;
    expect(again.measuredAt).toBe(cal.measuredAt);
    expect(JSON.parse(readFileSync(costCacheFile(), 'utf8')).entries[cal.key].rates).toEqual(cal.rates);
    // the estimate of cases: each from its own shape and zoom, averaged
    const cases = fingerprint.shapes_after_crop.map((shape, i) => ({ shape, spacing: fingerprint.spacings[i]! }));
    const at = cases.map((c) => shapeAtConfiguration(plans, cfg, c.spacing, c.shape));
    const each = cases.map((c, i) => hostPredictCaseSeconds(cal.rates, 2, 3, transposedShape(plans, c.shape), at[i]!));
    expect(hostPredictSeconds({ channels: 2, numClasses: 3, host: cal, plans }, at, cases)).toBeCloseTo((each[0]! + each[1]! + each[2]!) / 3, 12);
  });
});

describe('predictCaseBytes', () => {
  it('counts the channels read, the logits at the configuration and at the original grid, and the label map', () => {
    // 2 channels, 3 classes, 24x512x512 original, 24x110x110 at the configuration
    const n = 24 * 512 * 512;
    const m = 24 * 110 * 110;
    expect(predictCaseBytes(2, 3, [24, 512, 512], [24, 110, 110])).toBe(6 * 2 * n + 4 * (2 + 6) * m + 4 * 3 * n + 2 * n);
  });
});
