import { describe, expect, it } from 'vitest';
import { annotatedKey, labelManager, locationClasses } from '../dataset/label-manager.js';
import { sampleClassLocations } from '../preprocessing/class-locations.js';
import type { DatasetJson } from '../contracts/plans.js';
import type { PreprocessedCaseData } from './case-source.js';
import { PatchLoader } from './data-loader.js';
import { createRng } from './rng.js';

const json: DatasetJson = { channel_names: { 0: 'MRI' }, labels: { background: 0, lesion: 1, ignore: 2 }, numTraining: 1, file_ending: '.nii.gz' };
const [Z, Y, X] = [24, 24, 24];

/** A sparsely annotated case: everything is `ignore` (2) except an annotated block [14, 20)^3 with a lesion (1) core. */
function sparseCase(withLocations: boolean): PreprocessedCaseData {
  const seg = new Int16Array(Z * Y * X).fill(2);
  for (let z = 14; z < 20; z++)
    for (let y = 14; y < 20; y++)
      for (let x = 14; x < 20; x++) seg[(z * Y + y) * X + x] = z >= 16 && z < 18 && y >= 16 && y < 18 && x >= 16 && x < 18 ? 1 : 0;
  const lm = labelManager(json);
  const properties = withLocations ? { class_locations: sampleClassLocations(seg, [Z, Y, X], locationClasses(lm)) } : {};
  return { data: new Float32Array(Z * Y * X), seg, shape: [1, Z, Y, X], properties };
}

describe('patch sampling with an ignore label (nnU-Net get_bbox / annotated_classes_key)', () => {
  it('label manager: the ignore label is no class; the annotated union [-1, 0, 1] is located, 0 voxels included', () => {
    const lm = labelManager(json);
    expect(lm.allLabels).toEqual([0, 1]);
    expect(lm.foregroundLabels).toEqual([1]);
    expect(lm.numSegmentationHeads).toBe(2);
    expect(locationClasses(lm)).toEqual([1, [-1, 0, 1]]);
    expect(annotatedKey(lm)).toBe('-1,0,1');
    const locs = sparseCase(true).properties.class_locations!;
    expect(Object.keys(locs)).toEqual(['1', '-1,0,1']);
    expect(locs['1']!.length).toBe(8);
    expect(locs['-1,0,1']!.length).toBe(216); // the whole 6^3 annotated block, background included
    expect(locs['2']).toBeUndefined();
  });

  it('rejects an ignore label that is not the highest label + 1, naming the rule', () => {
    expect(() => labelManager({ ...json, labels: { background: 0, lesion: 1, ignore: 5 } }, 'ds/dataset.json'))
      .toThrow(/ds\/dataset.json: the ignore label 5 must be the highest label \+ 1 \(2\)/);
  });

  for (const stored of [true, false]) {
    it(`unforced windows are centred on annotated voxels, forced ones on the lesion (${stored ? 'stored' : 'computed'} locations)`, async () => {
      const lm = labelManager(json);
      const loader = new PatchLoader(new Map([['a', sparseCase(stored)]]), ['a'], {
        patchSize: [4, 4, 4], initialPatchSize: [4, 4, 4], batchSize: 3,
        locationClasses: locationClasses(lm), annotatedKey: annotatedKey(lm),
      });
      const rng = createRng(7);
      const centre = (2 * 4 + 2) * 4 + 2;
      for (let k = 0; k < 60; k++) {
        const { samples, forced } = await loader.nextBatch(rng);
        expect(forced).toEqual([false, false, true]);
        for (const s of samples.slice(0, 2)) expect(s.seg![centre], 'unforced window centre is annotated').not.toBe(2);
        expect(samples[2]!.seg![centre], 'forced window centre is a lesion voxel').toBe(1);
      }
    });
  }

  it('without the annotated key (no ignore label) unforced windows are uniform: most land on ignore voxels here', async () => {
    const loader = new PatchLoader(new Map([['a', sparseCase(true)]]), ['a'], { patchSize: [4, 4, 4], initialPatchSize: [4, 4, 4], batchSize: 3 });
    const rng = createRng(7);
    let onIgnore = 0;
    for (let k = 0; k < 30; k++) for (const s of (await loader.nextBatch(rng)).samples.slice(0, 2)) if (s.seg![42] === 2) onIgnore++;
    expect(onIgnore).toBeGreaterThan(40);
  });
});
