/**
 * Reusable vitest suite for `ComputeBackend` implementations, exported as `@nnunet-ts/core/testing` (not from the
 * core index). Await it at the top level of a test file (`await describeBackendContract('cpu-js', () => ...)`).
 * vitest is an optional peer dependency, imported lazily, so loading this module outside a test run costs nothing.
 */
import type { ComputeBackend, Conv3dParams, Tensor } from '../contracts/backend.js';
import {
  referenceConv3d,
  referenceConv3dBackwardData,
  referenceConv3dBackwardFilter,
  conv3dOutputShape,
} from '../compute/reference.js';

/** One convolution geometry of the suite. */
export interface ConvCase {
  name: string;
  x: number[];
  w: number[];
  p: Conv3dParams;
  bias?: boolean;
}

/** The geometries every backend must get right (the kinds of convolution nnU-Net's networks use, plus odd ones). */
export const CONTRACT_CASES: ConvCase[] = [
  { name: '3x3x3 pad 1', x: [2, 3, 5, 6, 7], w: [4, 3, 3, 3, 3], p: { stride: [1, 1, 1], padding: [1, 1, 1] }, bias: true },
  { name: '3x3x3 stride 2 pad 1', x: [1, 4, 7, 8, 9], w: [5, 4, 3, 3, 3], p: { stride: [2, 2, 2], padding: [1, 1, 1] } },
  { name: '1x3x3 stride [1,2,2]', x: [2, 3, 4, 7, 6], w: [3, 3, 1, 3, 3], p: { stride: [1, 2, 2], padding: [0, 1, 1] } },
  { name: '1x1x1 (seg head)', x: [2, 5, 3, 4, 5], w: [3, 5, 1, 1, 1], p: { stride: [1, 1, 1], padding: [0, 0, 0] }, bias: true },
  { name: 'kernel = stride 2, no pad (transposed conv)', x: [1, 3, 6, 4, 8], w: [4, 3, 2, 2, 2], p: { stride: [2, 2, 2], padding: [0, 0, 0] } },
  { name: '2D (d = 1) 3x3', x: [2, 3, 1, 9, 11], w: [4, 3, 1, 3, 3], p: { stride: [1, 1, 1], padding: [0, 1, 1] }, bias: true },
  { name: 'odd sizes, no pad', x: [1, 7, 5, 9, 3], w: [9, 7, 3, 3, 1], p: { stride: [1, 1, 1], padding: [0, 0, 0] } },
  { name: 'wide channels (blocking edges)', x: [1, 33, 5, 6, 9], w: [17, 33, 3, 3, 3], p: { stride: [1, 1, 1], padding: [1, 1, 1] } },
  { name: 'stride 3 pad 2 kernel 2', x: [1, 2, 7, 5, 8], w: [3, 2, 2, 2, 2], p: { stride: [3, 3, 3], padding: [2, 2, 2] } },
];

/** Deterministic uniform(-1, 1) values (mulberry32). */
export function randomTensor(shape: number[], seed: number): Tensor {
  let s = seed >>> 0;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    data[i] = ((t ^ (t >>> 14)) >>> 0) / 2147483648 - 1;
  }
  return { data, shape };
}

/** max |a - b| / max |b| (0 when both are zero). Throws when the lengths differ. */
export function relativeError(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= num)) num = d; // NaN propagates as a failure
    den = Math.max(den, Math.abs(b[i]!));
  }
  return den === 0 ? num : num / den;
}

/**
 * Registers a vitest `describe` block checking `conv3d`, `conv3dBackwardData` and `conv3dBackwardFilter` of the
 * backend made by `makeBackend` on every `CONTRACT_CASES` geometry against the naive reference (relative error
 * below `tol`, default 1e-4), plus shape checks. Await it at the top level of a test file.
 */
export async function describeBackendContract(
  name: string,
  makeBackend: () => Promise<ComputeBackend>,
  opts: { tol?: number; cases?: ConvCase[] } = {},
): Promise<void> {
  const { describe, it, expect, beforeAll, afterAll } = await import('vitest');
  const tol = opts.tol ?? 1e-4;
  describe(`ComputeBackend contract: ${name}`, () => {
    let backend: ComputeBackend;
    beforeAll(async () => {
      backend = await makeBackend();
    });
    afterAll(() => backend?.dispose?.());

    it('has info', () => {
      expect(typeof backend.info.name).toBe('string');
      expect(backend.info.description.length).toBeGreaterThan(0);
    });

    for (const [i, c] of (opts.cases ?? CONTRACT_CASES).entries()) {
      const x = randomTensor(c.x, 1000 + i);
      const w = randomTensor(c.w, 2000 + i);
      const bias = c.bias ? randomTensor([c.w[0]!], 3000 + i).data : null;
      const yShape = conv3dOutputShape(c.x, c.w, c.p);
      const dy = randomTensor(yShape, 4000 + i);

      it(`forward: ${c.name}`, () => {
        const got = backend.conv3d(x, w, bias, c.p);
        expect(got.shape).toEqual(yShape);
        expect(relativeError(got.data, referenceConv3d(x, w, bias, c.p).data)).toBeLessThan(tol);
      });
      it(`backward data: ${c.name}`, () => {
        const got = backend.conv3dBackwardData(dy, w, c.x, c.p);
        expect(got.shape).toEqual(c.x);
        expect(relativeError(got.data, referenceConv3dBackwardData(dy, w, c.x, c.p).data)).toBeLessThan(tol);
      });
      it(`backward filter: ${c.name}`, () => {
        const got = backend.conv3dBackwardFilter(x, dy, c.w, c.p);
        expect(got.shape).toEqual(c.w);
        expect(relativeError(got.data, referenceConv3dBackwardFilter(x, dy, c.w, c.p).data)).toBeLessThan(tol);
      });
    }

    it('throws on a channel mismatch', () => {
      const x = randomTensor([1, 2, 3, 3, 3], 1);
      const w = randomTensor([2, 3, 3, 3, 3], 2);
      expect(() => backend.conv3d(x, w, null, { stride: [1, 1, 1], padding: [1, 1, 1] })).toThrow();
    });
  });
}
