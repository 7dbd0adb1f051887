/**
 * Float64 references of the device contract's non-convolution ops (the convolutions' are in
 * `compute/reference.ts`), written from the definitions in `contracts/device.ts`, independent of any backend, for
 * the contract suite. Slow, naive loops.
 */

/** `y = IN(x)` per `(n, c)` plane with biased variance, optional affine and LeakyReLU, all in float64. */
export function instanceNormRef(x: ArrayLike<number>, n: number, c: number, gamma: ArrayLike<number> | null, beta: ArrayLike<number> | null, eps: number, slope?: number): Float64Array {
  const sp = x.length / (n * c);
  const y = new Float64Array(x.length);
  for (let nc = 0; nc < n * c; nc++) {
    let m = 0;
    for (let i = 0; i < sp; i++) m += x[nc * sp + i]!;
    m /= sp;
    let v = 0;
    for (let i = 0; i < sp; i++) v += (x[nc * sp + i]! - m) ** 2;
    v /= sp;
    const g = gamma ? gamma[nc % c]! : 1;
    const b = beta ? beta[nc % c]! : 0;
    for (let i = 0; i < sp; i++) {
      const z = (g * (x[nc * sp + i]! - m)) / Math.sqrt(v + eps) + b;
      y[nc * sp + i] = slope !== undefined && z <= 0 ? slope * z : z;
    }
  }
  return y;
}

/** Softmax over K channels of `[n, K, sp]` in float64. */
export function softmaxRef(x: ArrayLike<number>, n: number, K: number): Float64Array {
  const sp = x.length / (n * K);
  const p = new Float64Array(x.length);
  for (let b = 0; b < n; b++)
    for (let v = 0; v < sp; v++) {
      let m = -Infinity;
      for (let k = 0; k < K; k++) m = Math.max(m, x[(b * K + k) * sp + v]!);
      let z = 0;
      for (let k = 0; k < K; k++) z += Math.exp(x[(b * K + k) * sp + v]! - m);
      for (let k = 0; k < K; k++) p[(b * K + k) * sp + v] = Math.exp(x[(b * K + k) * sp + v]! - m) / z;
    }
  return p;
}

/** Options of `dcCeRef` (the subset of `DcCeLossOptions` that shapes the value). */
export interface DcCeRefOptions {
  batchDice: boolean;
  doBackground: boolean;
  smooth: number;
  ignoreLabel?: number;
  regions?: number[][];
}

/** Per-channel probabilities and one-hot targets of one level; `valid[b*sp+v]` false for ignored voxels. */
function levelProbs(x: ArrayLike<number>, t: ArrayLike<number>, n: number, K: number, o: DcCeRefOptions): { p: Float64Array; y: Float64Array; valid: boolean[]; ce: number } {
  const sp = x.length / (n * K);
  const p = o.regions ? Float64Array.from(x, (v) => 1 / (1 + Math.exp(-v))) : softmaxRef(x, n, K);
  const y = new Float64Array(x.length);
  const valid: boolean[] = [];
  let ce = 0;
  let nValid = 0;
  for (let b = 0; b < n; b++)
    for (let v = 0; v < sp; v++) {
      const lab = t[b * sp + v]!;
      const ok = o.ignoreLabel === undefined || lab !== o.ignoreLabel;
      valid.push(ok);
      if (!ok) continue;
      nValid++;
      for (let k = 0; k < K; k++) {
        const i = (b * K + k) * sp + v;
        y[i] = o.regions ? (o.regions[k]!.includes(lab) ? 1 : 0) : k === lab ? 1 : 0;
        ce += o.regions ? -(y[i]! * Math.log(p[i]!) + (1 - y[i]!) * Math.log(1 - p[i]!)) : y[i] ? -Math.log(p[i]!) : 0;
      }
    }
  const den = o.regions && o.ignoreLabel === undefined ? n * K * sp : o.regions ? Math.max(nValid, 1e-8) : nValid;
  return { p, y, valid, ce: nValid > 0 ? ce / den : 0 };
}

/** One level's `{ce, dice}` (dice = negative mean soft Dice, nnU-Net `MemoryEfficientSoftDiceLoss`). */
export function dcCeLevelRef(x: ArrayLike<number>, t: ArrayLike<number>, n: number, K: number, o: DcCeRefOptions): { ce: number; dice: number } {
  const sp = x.length / (n * K);
  const { p, y, valid, ce } = levelProbs(x, t, n, K, o);
  const k0 = o.regions || o.doBackground ? 0 : 1;
  const nd = o.batchDice ? 1 : n;
  let dc = 0;
  for (let d = 0; d < nd; d++)
    for (let k = k0; k < K; k++) {
      let tp = 0;
      let sp_ = 0;
      let sg = 0;
      for (let b = o.batchDice ? 0 : d; b < (o.batchDice ? n : d + 1); b++)
        for (let v = 0; v < sp; v++) {
          if (!valid[b * sp + v]) continue;
          const i = (b * K + k) * sp + v;
          tp += p[i]! * y[i]!;
          sp_ += p[i]!;
          sg += y[i]!;
        }
      dc += (2 * tp + o.smooth) / Math.max(sp_ + sg + o.smooth, 1e-8);
    }
  return { ce, dice: K > k0 ? -dc / (nd * (K - k0)) : 0 };
}

/** Central finite differences of `f` at the given coordinates of `x` (float64, step `h`). */
export function finiteDiff(f: (x: Float64Array) => number, x: Float64Array, idx: readonly number[], h = 1e-6): Float64Array {
  return Float64Array.from(idx, (i) => {
    const v = x[i]!;
    x[i] = v + h;
    const a = f(x);
    x[i] = v - h;
    const b = f(x);
    x[i] = v;
    return (a - b) / (2 * h);
  });
}

/** `sum(w * y)` in float64 (the scalar whose gradient a backward op computes for upstream gradient w). */
export function dot(w: ArrayLike<number>, y: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < y.length; i++) s += w[i]! * y[i]!;
  return s;
}
