import { roundHalfEven } from '../training/rng.js';

/** Round a number to the nearest IEEE half-precision value (ties to even), as PyTorch's `.half()` does. */
export function toFloat16(x: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a >= 65520) return sign * Infinity;
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--;
  if (e < -14) e = -14; // subnormals share the spacing 2^-24
  const ulp = 2 ** (e - 10);
  return sign * roundHalfEven(a / ulp) * ulp;
}

/**
 * Gaussian importance map of a tile (RULES.md §18, nnU-Net `compute_gaussian`): a delta at `floor(P/2)` per axis blurred
 * with `sigma = P * sigmaScale` (1/8; scipy truncation radius `int(4 sigma + 0.5)`), scaled so the maximum is
 * `valueScale` (10), rounded to float16 like v2 (which stores it in half precision), zeros (float16 underflow at the
 * corners) replaced by the smallest non-zero value. Returns float32 `[...tile]` (C order, last axis fastest).
 */
export function computeGaussian(tile: number[], sigmaScale = 1 / 8, valueScale = 10): Float32Array {
  // every case of a model uses the same map: computed once per tile and scales (a 3D patch took ~0.3 s per case)
  const key = `${tile.join('x')}|${sigmaScale}|${valueScale}`;
  let map = gaussianCache.get(key);
  if (!map) {
    map = gaussianMap(tile, sigmaScale, valueScale);
    if (gaussianCache.size >= 8) gaussianCache.delete(gaussianCache.keys().next().value!);
    gaussianCache.set(key, map);
  }
  return map.slice();
}

const gaussianCache = new Map<string, Float32Array>();

function gaussianMap(tile: number[], sigmaScale: number, valueScale: number): Float32Array {
  const axes = tile.map((p) => {
    const sigma = p * sigmaScale;
    const r = Math.floor(4 * sigma + 0.5);
    const c = Math.floor(p / 2);
    return Float64Array.from({ length: p }, (_, i) => (Math.abs(i - c) <= r ? Math.exp((-0.5 * (i - c) ** 2) / (sigma * sigma)) : 0));
  });
  const n = tile.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const idx = tile.map(() => 0);
  let minNonZero = Infinity;
  for (let k = 0; k < n; k++) {
    let v = valueScale;
    for (let d = 0; d < tile.length; d++) v *= axes[d]![idx[d]!]!;
    const h = toFloat16(v);
    out[k] = h;
    if (h > 0 && h < minNonZero) minNonZero = h;
    for (let d = tile.length - 1; d >= 0; d--) {
      if (++idx[d]! < tile[d]!) break;
      idx[d] = 0;
    }
  }
  for (let k = 0; k < n; k++) if (out[k] === 0) out[k] = minNonZero;
  return out;
}
