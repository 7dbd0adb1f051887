/**
 * Deep supervision loss weights (RULES.md §15): `1 / 2^i` for level i (0 = highest resolution), the lowest
 * resolution level set to 0, normalised to sum 1. One level gives `[1]`.
 */
export function deepSupervisionWeights(nLevels: number): number[] {
  if (nLevels < 1) throw new Error(`deepSupervisionWeights: nLevels must be >= 1, got ${nLevels}`);
  if (nLevels === 1) return [1];
  const w = Array.from({ length: nLevels }, (_, i) => 1 / 2 ** i);
  w[nLevels - 1] = 0;
  const s = w.reduce((a, b) => a + b, 0);
  return w.map((v) => v / s);
}

/**
 * Deep supervision target scales (RULES.md §15): `1 / cumprod(strides)` per axis, all but the last stage, so
 * `strides.length - 1` entries, the first being all ones. `strides`: per stage, `[z, y, x]` (or `[y, x]`).
 */
export function deepSupervisionScales(strides: number[][]): number[][] {
  const out: number[][] = [];
  let cum = strides[0]!.map(() => 1);
  for (const s of strides) {
    cum = cum.map((c, i) => c * s[i]!);
    out.push(cum.map((c) => 1 / c));
  }
  return out.slice(0, -1);
}

/** Python's `round` (half to even), used for target shapes as nnU-Net computes them. */
function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (Math.abs(d - 0.5) < 1e-9) return f % 2 === 0 ? f : f + 1;
  return Math.round(v);
}

/**
 * Downsamples a label map for deep supervision like nnU-Net's `DownsampleSegForDSTransform` (order 0,
 * `nearest-exact`: source index `floor((i + 0.5) * in / out)`), target shape `round(shape * scale)` per axis.
 * `seg`: int16 `[n, 1, z, y, x]` (`shape` of length 5); `scales[l]`: `[sz, sy, sx]` or `[sy, sx]` (2D: z untouched).
 * Scales of all ones return the input array itself. Returns one `{data, shape}` per level.
 */
export function downsampleSegForDeepSupervision(seg: Int16Array, shape: number[], scales: number[][]): { data: Int16Array; shape: number[] }[] {
  if (shape.length !== 5) throw new Error(`downsampleSegForDeepSupervision: shape must be [n, c, z, y, x], got ${shape}`);
  const [n, c, d, h, w] = shape as [number, number, number, number, number];
  return scales.map((s0) => {
    const s = s0.length === 2 ? [1, s0[0]!, s0[1]!] : s0;
    if (s.every((v) => v === 1)) return { data: seg, shape: shape.slice() };
    const [od, oh, ow] = [roundHalfEven(d * s[0]!), roundHalfEven(h * s[1]!), roundHalfEven(w * s[2]!)];
    const iz = Int32Array.from({ length: od }, (_, i) => Math.min(d - 1, Math.floor(((i + 0.5) * d) / od)));
    const iy = Int32Array.from({ length: oh }, (_, i) => Math.min(h - 1, Math.floor(((i + 0.5) * h) / oh)));
    const ix = Int32Array.from({ length: ow }, (_, i) => Math.min(w - 1, Math.floor(((i + 0.5) * w) / ow)));
    const out = new Int16Array(n * c * od * oh * ow);
    let o = 0;
    for (let b = 0; b < n * c; b++)
      for (let z = 0; z < od; z++)
        for (let y = 0; y < oh; y++) {
          const row = ((b * d + iz[z]!) * h + iy[y]!) * w;
          for (let x = 0; x < ow; x++) out[o++] = seg[row + ix[x]!]!;
        }
    return { data: out, shape: [n, c, od, oh, ow] };
  });
}
