/** Shape checks and geometry shared by the `webgpu` ops. */
import type { ConvParams, DeviceTensor } from '@nnunet-ts/core';
import type { ConvGeometry } from './kernels/conv.js';

/** Product of the entries (1 for `[]`). */
export const vol = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);

/** The last three entries (`[z, y, x]`) of a rank-4 or rank-5 shape. */
export const spatial = (s: readonly number[]): number[] => s.slice(-3);

/** Throws naming `op` when the two tensors' shapes differ. */
export function sameShape(op: string, a: DeviceTensor, b: DeviceTensor): void {
  if (a.shape.length !== b.shape.length || a.shape.some((v, i) => v !== b.shape[i])) {
    throw new Error(`webgpu.${op}: shapes [${a.shape.join(', ')}] and [${b.shape.join(', ')}] differ`);
  }
}

/**
 * Geometry of `conv(x, w)`: x `[n, cIn, z, y, x]`, w `[cOut, cIn, kz, ky, kx]`; output size
 * `floor((i + 2 pad - k) / stride) + 1` per axis. Throws when ranks or channels disagree or the output is empty.
 */
export function convGeometry(op: string, x: readonly number[], w: readonly number[], p: ConvParams): ConvGeometry {
  if (x.length !== 5 || w.length !== 5 || x[1] !== w[1]) {
    throw new Error(`webgpu.${op}: x [${x.join(', ')}] and w [${w.join(', ')}] must be [n, cIn, z, y, x] and [cOut, cIn, kz, ky, kx]`);
  }
  const inS = x.slice(2) as [number, number, number];
  const k = w.slice(2) as [number, number, number];
  const outS = inS.map((v, i) => Math.floor((v + 2 * p.padding[i]! - k[i]!) / p.stride[i]!) + 1) as [number, number, number];
  if (outS.some((v) => v < 1)) throw new Error(`webgpu.${op}: empty output for x [${x.join(', ')}] and w [${w.join(', ')}]`);
  return { n: x[0]!, cIn: x[1]!, cOut: w[0]!, inS, k, outS, stride: p.stride, pad: p.padding };
}
