/**
 * Deep-supervision target for one output level: nearest-neighbour ('nearest-exact', as batchgeneratorsv2's
 * `DownsampleSegForDSTransform`) resampling of a seg `[n, 1, z, y, x]` to the spatial size `out` (`[z, y, x]`):
 * source index `floor((i + 0.5) * in / out)`. Identity when sizes match.
 */
export function downsampleSegTo(seg: Int16Array, shape: number[], out: number[]): { data: Int16Array; shape: number[] } {
  const [n, , Z, Y, X] = shape as [number, number, number, number, number];
  const [oz, oy, ox] = out as [number, number, number];
  if (oz === Z && oy === Y && ox === X) return { data: seg, shape: [...shape] };
  const iz = Int32Array.from({ length: oz }, (_, i) => Math.min(Z - 1, Math.floor(((i + 0.5) * Z) / oz)));
  const iy = Int32Array.from({ length: oy }, (_, i) => Math.min(Y - 1, Math.floor(((i + 0.5) * Y) / oy)));
  const ix = Int32Array.from({ length: ox }, (_, i) => Math.min(X - 1, Math.floor(((i + 0.5) * X) / ox)));
  const data = new Int16Array(n * oz * oy * ox);
  let o = 0;
  for (let b = 0; b < n; b++)
    for (let z = 0; z < oz; z++)
      for (let y = 0; y < oy; y++) {
        const row = ((b * Z + iz[z]!) * Y + iy[y]!) * X;
        for (let x = 0; x < ox; x++) data[o++] = seg[row + ix[x]!]!;
      }
  return { data, shape: [n, 1, oz, oy, ox] };
}

/**
 * True positives, false positives and false negatives per foreground class (1..K-1) of argmax(logits) against the
 * target, voxels equal to `ignoreLabel` excluded (nnU-Net `validation_step`). logits `[n, K, z, y, x]` (`logitsShape`), target
 * `[n, 1, z, y, x]`. Returned arrays have length K-1.
 */
export function confusionCounts(logits: Float32Array, logitsShape: number[], target: Int16Array, ignoreLabel?: number): { tp: number[]; fp: number[]; fn: number[] } {
  const nb = logitsShape[0]!;
  const K = logitsShape[1]!;
  const per = logitsShape.slice(2).reduce((a, b) => a * b, 1);
  if (logits.length !== nb * K * per || target.length !== nb * per) throw new Error(`confusionCounts: logits [${logitsShape}] and target length ${target.length} disagree`);
  const tp = new Array<number>(K - 1).fill(0);
  const fp = new Array<number>(K - 1).fill(0);
  const fn = new Array<number>(K - 1).fill(0);
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < per; i++) {
      const t = target[b * per + i]!;
      if (ignoreLabel !== undefined && t === ignoreLabel) continue;
      let best = 0;
      let bv = logits[b * K * per + i]!;
      for (let k = 1; k < K; k++) {
        const v = logits[(b * K + k) * per + i]!;
        if (v > bv) {
          bv = v;
          best = k;
        }
      }
      if (best === t) {
        if (t > 0) tp[t - 1]!++;
      } else {
        if (best > 0) fp[best - 1]!++;
        if (t > 0) fn[t - 1]!++;
      }
    }
  }
  return { tp, fp, fn };
}

/** Dice per class `2tp / (2tp + fp + fn)` (NaN when the class is absent from both) and their NaN-ignoring mean. */
export function pseudoDice(c: { tp: number[]; fp: number[]; fn: number[] }): { perClass: number[]; mean: number } {
  const perClass = c.tp.map((t, i) => {
    const d = 2 * t + c.fp[i]! + c.fn[i]!;
    return d === 0 ? NaN : (2 * t) / d;
  });
  const ok = perClass.filter((v) => !Number.isNaN(v));
  return { perClass, mean: ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : NaN };
}

/**
 * Region-based `confusionCounts` (nnU-Net `validation_step` with regions): region r is predicted where
 * `sigmoid(logit_r) > 0.5` (logit > 0) and true where the label is in `regions[r]`; voxels equal to `ignoreLabel`
 * excluded. logits `[n, R, z, y, x]`, target `[n, 1, z, y, x]`. Returned arrays have length R.
 */
export function regionConfusionCounts(logits: Float32Array, logitsShape: number[], target: Int16Array, regions: number[][], ignoreLabel?: number): { tp: number[]; fp: number[]; fn: number[] } {
  const nb = logitsShape[0]!;
  const R = logitsShape[1]!;
  const per = logitsShape.slice(2).reduce((a, b) => a * b, 1);
  if (R !== regions.length || logits.length !== nb * R * per || target.length !== nb * per) {
    throw new Error(`regionConfusionCounts: logits [${logitsShape}], ${regions.length} regions and target length ${target.length} disagree`);
  }
  const sets = regions.map((r) => new Set(r));
  const tp = new Array<number>(R).fill(0);
  const fp = new Array<number>(R).fill(0);
  const fn = new Array<number>(R).fill(0);
  for (let b = 0; b < nb; b++)
    for (let i = 0; i < per; i++) {
      const t = target[b * per + i]!;
      if (ignoreLabel !== undefined && t === ignoreLabel) continue;
      for (let r = 0; r < R; r++) {
        const pred = logits[(b * R + r) * per + i]! > 0;
        const truth = sets[r]!.has(t);
        if (pred && truth) tp[r]!++;
        else if (pred) fp[r]!++;
        else if (truth) fn[r]!++;
      }
    }
  return { tp, fp, fn };
}
