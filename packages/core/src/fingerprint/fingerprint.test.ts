import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { identityDirection, type MedicalImage } from '../image/image.js';
import { extractFingerprint, type LoadedCase } from './extract.js';
import { intensityProperties, toWeighted, weightedPercentile } from './intensity.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), '__fixtures__');
const ref = JSON.parse(readFileSync(join(dir, 'fingerprint.json'), 'utf8'));
const bin = <T>(name: string, C: new (b: ArrayBuffer) => T): T => {
  const b = readFileSync(join(dir, name));
  return new C(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer);
};
const img = (data: MedicalImage['data'], shape: number[], spacing: number[]): MedicalImage => ({
  data, shape: shape as MedicalImage['shape'], spacing: spacing as MedicalImage['spacing'], origin: [0, 0, 0],
  direction: identityDirection(),
});
function loadCases(): LoadedCase[] {
  return ref.cases.map((c: { shape: number[]; spacing: number[] }, k: number) => ({
    id: `case${k}`,
    image: img(bin(`case${k}_img.bin`, Float32Array), c.shape, c.spacing),
    seg: img(bin(`case${k}_seg.bin`, Int16Array), [1, ...c.shape.slice(1)], c.spacing),
  }));
}

describe('extractFingerprint (RULES.md §2) against the numpy reference', () => {
  it('matches field by field (same RandomState(1234) draws)', async () => {
    const fp = await extractFingerprint(loadCases(), { totalForegroundSamples: ref.total });
    const want = ref.fingerprint;
    expect(fp.shapes_after_crop).toEqual(want.shapes_after_crop);
    expect(fp.spacings).toEqual(want.spacings);
    expect(fp.median_relative_size_after_cropping).toBeCloseTo(want.median_relative_size_after_cropping, 12);
    for (const ch of ['0', '1']) {
      for (const [k, v] of Object.entries(want.foreground_intensity_properties_per_channel[ch])) {
        expect((fp.foreground_intensity_properties_per_channel[ch] as unknown as Record<string, number>)[k])
          .toBeCloseTo(v as number, 4);
      }
    }
  });
  it('streams an async iterable of unknown length to the same result, reporting NaN voxels', async () => {
    const cases = loadCases();
    const warnings: string[] = [];
    (cases[0]!.image.data as Float32Array)[0] = NaN; // a background voxel: NaN counts as nonzero, never as foreground
    async function* gen() { for (const c of cases) yield c; }
    const fp = await extractFingerprint(gen(), { totalForegroundSamples: ref.total, onWarning: (m) => warnings.push(m) });
    expect(warnings.length).toBe(1);
    expect(fp.foreground_intensity_properties_per_channel['0']!.mean)
      .toBeCloseTo(ref.fingerprint.foreground_intensity_properties_per_channel['0'].mean, 4);
  });
});

describe('weighted percentiles equal numpy linear percentiles', () => {
  it('on a small multiset', () => {
    const s = toWeighted(Float32Array.from([3, -2, 8.5, 1, 1, 4, 10]));
    expect(weightedPercentile(s, 50)).toBe(3);
    expect(weightedPercentile(s, 0.5)).toBeCloseTo(-2 + 0.03 * 3, 12);
    expect(weightedPercentile(s, 99.5)).toBeCloseTo(8.5 + 0.97 * 1.5, 12);
    const p = intensityProperties(s);
    expect(p.min).toBe(-2);
    expect(p.max).toBe(10);
  });
});
