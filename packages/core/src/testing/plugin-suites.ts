/**
 * Contract suites for the plugin kinds other than compute backends, exported as `@nnunet-ts/core/testing`. Each
 * `describe…Contract` registers a vitest `describe` block (vitest, an optional peer dependency, is imported
 * lazily); await it at the top level of a test file. They check what the pipeline relies on, with real values.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Transform } from '../contracts/augmentation.js';
import type { ImageReader, ImageWriter } from '../contracts/image-io.js';
import type { MedicalImage } from '../image/image.js';
import type { LossFactory } from '../contracts/loss.js';
import type { Normalizer } from '../contracts/normalizer.js';
import type { Postprocessor } from '../contracts/postprocessor.js';
import type { Resampler } from '../contracts/resampler.js';
import { randomTensor } from './backend-suite.js';

/** Reader + writer of one file ending: a written image reads back with its shape, geometry and values. */
export async function describeImageIOContract(name: string, reader: ImageReader, writer: ImageWriter, ending: string): Promise<void> {
  const { describe, it, expect } = await import('vitest');
  describe(`ImageReader/ImageWriter contract: ${name}`, () => {
    it('declares names and endings', () => {
      expect(reader.name.length).toBeGreaterThan(0);
      expect(reader.extensions).toContain(ending);
      expect(writer.extensions).toContain(ending);
    });
    it('round-trips shape [c, z, y, x], spacing, origin, direction and float values', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'io-contract-'));
      try {
        const data = randomTensor([1, 3, 4, 5], 7).data;
        const img: MedicalImage = { data, shape: [1, 3, 4, 5], spacing: [2.5, 0.75, 1.25], origin: [1, -2, 3], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
        const f = join(dir, `x${ending}`);
        await writer.write(f, img, { dtype: 'float32' });
        const back = await reader.read(f);
        expect(back.shape).toEqual(img.shape);
        for (let i = 0; i < 3; i++) {
          expect(back.spacing[i]).toBeCloseTo(img.spacing[i]!, 5);
          expect(back.origin[i]).toBeCloseTo(img.origin[i]!, 5);
        }
        back.direction.forEach((d, i) => expect(d).toBeCloseTo(img.direction[i]!, 5));
        expect(Array.from(back.data)).toEqual(Array.from(data));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
}

/** Normalizer: in place, same length, finite output also for constant input. */
export async function describeNormalizerContract(normalizer: Normalizer): Promise<void> {
  const { describe, it, expect } = await import('vitest');
  const props = { mean: 50, std: 10, median: 50, min: 0, max: 100, percentile_00_5: 5, percentile_99_5: 95 };
  describe(`Normalizer contract: ${normalizer.name}`, () => {
    for (const [what, data] of [['random', randomTensor([200], 3).data.map((v) => v * 100 + 120)], ['constant', new Float32Array(50).fill(7)]] as const) {
      it(`${what} input: returns its (same-length) input array, all finite`, () => {
        const x = Float32Array.from(data);
        const out = normalizer.normalize({ data: x, mask: null, intensityProperties: props, channel: 0 } as never);
        expect(out.length).toBe(x.length);
        expect(out.every((v) => Number.isFinite(v))).toBe(true);
      });
    }
  });
}

/** Resampler: data `[c, z, y, x]` and segmentations `[z, y, x]` to new sizes, identity at the same shape, only input labels. */
export async function describeResamplerContract(resampler: Resampler): Promise<void> {
  const { describe, it, expect } = await import('vitest');
  const opts = { order: 3, orderZ: 0, separateZAxis: null };
  describe(`Resampler contract: ${resampler.name}`, () => {
    it('data: [c, z, y, x] to the new shape; identity at the same shape', () => {
      const x = randomTensor([2, 4, 5, 6], 11).data;
      expect(resampler.resampleData(x, [2, 4, 5, 6], [7, 3, 9], opts).length).toBe(2 * 7 * 3 * 9);
      const same = resampler.resampleData(x, [2, 4, 5, 6], [4, 5, 6], opts);
      same.forEach((v, i) => expect(v).toBeCloseTo(x[i]!, 4));
    });
    it('segmentation: only labels of the input', () => {
      const s = Int16Array.from({ length: 4 * 5 * 6 }, (_, i) => (i % 7 === 0 ? 2 : i % 3 === 0 ? 1 : 0));
      const out = resampler.resampleSeg(s, [4, 5, 6], [8, 10, 12], { ...opts, order: 1 });
      expect(out.length).toBe(8 * 10 * 12);
      expect([...new Set(out)].every((v) => [0, 1, 2].includes(v))).toBe(true);
    });
  });
}

/** Loss factory: finite loss, one gradient per weighted output of the output's shape. */
export async function describeLossContract(factory: LossFactory): Promise<void> {
  const { describe, it, expect } = await import('vitest');
  describe(`Loss contract: ${factory.name}`, () => {
    it('finite loss and gradients shaped like the outputs (deep supervision levels)', () => {
      const loss = factory.create({ batchDice: true, deepSupervisionWeights: [2 / 3, 1 / 3] });
      const outputs = [randomTensor([2, 3, 2, 4, 4], 1), randomTensor([2, 3, 1, 2, 2], 2)];
      const targets = outputs.map((o) => ({ data: Int16Array.from({ length: o.data.length / 3 }, (_, i) => i % 3), shape: [2, 1, ...o.shape.slice(2)] }));
      const r = loss.compute({ outputs, targets });
      expect(Number.isFinite(r.loss)).toBe(true);
      r.grads.forEach((g, l) => expect(g?.shape).toEqual(outputs[l]!.shape));
    });
  });
}

/** Transforms: declared targets; `apply` keeps the sample's shape and leaves undeclared targets alone. */
export async function describeTransformContract(name: string, transforms: Transform[]): Promise<void> {
  const { describe, it, expect } = await import('vitest');
  const rng = { next: () => 0.01, uniform: (lo: number) => lo, int: (lo: number) => lo, normal: () => 0 };
  describe(`Transform contract: ${name}`, () => {
    for (const t of transforms) {
      it(`${t.name}: declares targets; keeps the shape; moves only what it declares`, () => {
        expect(t.targets?.length ?? 1).toBeGreaterThan(0);
        const shape = [1, 4, 6, 6];
        const image = randomTensor(shape, 5).data;
        const seg = Int16Array.from({ length: 144 }, (_, i) => i % 2);
        const s = { image: Float32Array.from(image), seg: Int16Array.from(seg), shape, properties: {} };
        const p = t.getParameters(s, rng);
        if (p === null) return;
        const out = t.apply(s, p);
        const targets = t.targets ?? ['image'];
        if (!t.cropsToPatchSize) expect(out.shape.slice(1)).toEqual(shape.slice(1));
        if (!targets.includes('segmentation') && out.seg) expect(Array.from(out.seg)).toEqual(Array.from(seg));
        if (!targets.includes('image')) expect(Array.from(out.image)).toEqual(Array.from(image));
      });
    }
  });
}

/** Postprocessor: same size out, only labels present in the input. */
export async function describePostprocessorContract(pp: Postprocessor, options: Record<string, unknown>): Promise<void> {
  const { describe, it, expect } = await import('vitest');
  describe(`Postprocessor contract: ${pp.name}`, () => {
    it('keeps the size and introduces no label', () => {
      const seg = Int16Array.from({ length: 6 * 6 * 6 }, (_, i) => (i < 20 ? 1 : i === 100 ? 1 : i > 200 ? 2 : 0));
      const out = pp.apply(Int16Array.from(seg), [6, 6, 6], options);
      expect(out.length).toBe(seg.length);
      expect([...new Set(out)].every((v) => [0, 1, 2].includes(v))).toBe(true);
    });
  });
}
