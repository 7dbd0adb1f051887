import type { Parameter } from '../contracts/network.js';
import type { InitRng } from './rng.js';

/** A zero-filled parameter (value and grad) of the given shape; `decay` defaults to true (nnU-Net decays all). */
export function createParameter(name: string, shape: number[], decay = true): Parameter {
  const n = shape.reduce((a, b) => a * b, 1);
  return { name, shape: [...shape], value: new Float32Array(n), grad: new Float32Array(n), decay };
}

/**
 * He (Kaiming) normal initialisation as nnU-Net's `InitWeights_He(1e-2)` uses it: fan-in mode, leaky-ReLU gain
 * `sqrt(2 / (1 + a^2))`, std = gain / sqrt(fanIn), where `fanIn = shape[1] * prod(shape[2:])` (PyTorch's
 * definition: for a transposed conv weight `[cIn, cOut, k...]` this is `cOut * prod(k)`). RULES.md §7.
 */
export function heNormalInit(p: Parameter, rng: InitRng, a = 1e-2): void {
  const fanIn = p.shape.slice(1).reduce((x, y) => x * y, 1);
  const std = Math.sqrt(2 / (1 + a * a)) / Math.sqrt(fanIn);
  for (let i = 0; i < p.value.length; i++) p.value[i] = rng.normal() * std;
}

/** Returns `buf` when it has exactly `n` elements, else a new zeroed `Float32Array(n)` (buffer reuse helper). */
export function ensureBuffer(buf: Float32Array | null, n: number): Float32Array {
  return buf && buf.length === n ? buf : new Float32Array(n);
}

/** Product of a shape. */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}
