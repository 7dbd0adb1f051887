/**
 * Host kernels of nnU-Net's `DC_and_CE_loss` / `DC_and_BCE_loss` per deep supervision level (RULES.md §15-§16;
 * nnunetv2/training/loss/compound_losses.py, dice.py `MemoryEfficientSoftDiceLoss`): float64 sums, stable softmax.
 * The one implementation behind the contract's `dcCeLoss` on host memory and the `compute` of `@nnunet-ts/loss`.
 */

const DENOM_MIN = 1e-8;

/** Options of one level. */
export interface LevelOptions {
  batchDice: boolean;
  doBackground: boolean;
  smooth: number;
  ignoreLabel: number | undefined;
  /** Multiplies the written gradient (deep supervision weight times loss scale). */
  scale: number;
  /** nnU-Net `weight_ce` / `weight_dice` (default 1 each): the level's loss is `weightCe * ce + weightDice * dice`. */
  weightCe?: number;
  weightDice?: number;
}

/** Integer labels of a level, `[n, 1, ...]` flattened. */
type Labels = Int16Array | Int32Array | Uint8Array;

/** What one level returns: the weighted loss, and the unweighted CE (BCE) and negative mean soft Dice. */
export interface LevelLoss {
  loss: number;
  ce: number;
  dice: number;
}

/** Dice terms from the per-(sample|batch, channel) sums: mean Dice and its derivatives w.r.t. tp and sum(pred). */
function diceTerms(inter: Float64Array, sPred: Float64Array, sGt: Float64Array, nd: number, K: number, k0: number, smooth: number): { dc: number; dI: Float64Array; dS: Float64Array } {
  const nTerms = nd * (K - k0);
  const dI = new Float64Array(nd * K);
  const dS = new Float64Array(nd * K);
  let dc = 0;
  for (let d = 0; d < nd; d++)
    for (let k = k0; k < K; k++) {
      const i = d * K + k;
      const raw = sGt[i]! + sPred[i]! + smooth;
      const den = Math.max(raw, DENOM_MIN);
      const num = 2 * inter[i]! + smooth;
      dc += num / den / nTerms;
      dI[i] = -2 / den / nTerms;
      dS[i] = raw > DENOM_MIN ? num / (den * den) / nTerms : 0;
    }
  return { dc: nTerms > 0 ? dc : 0, dI, dS };
}

/** Softmax per voxel into `p`, CE sum, and the Dice sums; returns `[ceSum, nValid]`. */
function softmaxSums(x: Float32Array, t: Labels, n: number, K: number, o: LevelOptions, p: Float32Array, inter: Float64Array, sPred: Float64Array, sGt: Float64Array): [number, number] {
  const sp = x.length / (n * K);
  const k0 = o.doBackground ? 0 : 1;
  let ceSum = 0;
  let nValid = 0;
  for (let b = 0; b < n; b++) {
    const base = b * K * sp;
    const di = (o.batchDice ? 0 : b) * K;
    for (let v = 0; v < sp; v++) {
      const lab = t[b * sp + v]!;
      const valid = o.ignoreLabel === undefined || lab !== o.ignoreLabel;
      if (valid && (lab < 0 || lab >= K)) throw new Error(`DC_and_CE_loss: label ${lab} outside [0, ${K})`);
      let m = -Infinity;
      for (let k = 0; k < K; k++) m = Math.max(m, x[base + k * sp + v]!);
      let z = 0;
      for (let k = 0; k < K; k++) {
        const e = Math.exp(x[base + k * sp + v]! - m);
        p[base + k * sp + v] = e;
        z += e;
      }
      const iz = 1 / z;
      for (let k = 0; k < K; k++) p[base + k * sp + v]! *= iz;
      if (!valid) continue;
      nValid++;
      ceSum += m + Math.log(z) - x[base + lab * sp + v]!;
      for (let k = k0; k < K; k++) {
        const pk = p[base + k * sp + v]!;
        sPred[di + k] += pk;
        if (k === lab) {
          inter[di + k] += pk;
          sGt[di + k] += 1;
        }
      }
    }
  }
  return [ceSum, nValid];
}

/**
 * One softmax level (`DC_and_CE_loss`): logits `x` `[n, K, ...]`, labels `t` `[n, 1, ...]` in [0, K) or the ignore
 * label. CE is the mean over annotated voxels (0 when none), Dice per channel (background excluded unless
 * `doBackground`) over the batch or per sample. Writes `scale * dL/dx` into `grad` (skipped when null); returns the
 * weighted loss and the unweighted parts. Throws `Error` for a label outside [0, K).
 */
export function softmaxDcCeLevel(x: Float32Array, t: Labels, n: number, K: number, o: LevelOptions, grad: Float32Array | null): LevelLoss {
  const sp = x.length / (n * K);
  const k0 = o.doBackground ? 0 : 1;
  const nd = o.batchDice ? 1 : n;
  const [inter, sPred, sGt] = [new Float64Array(nd * K), new Float64Array(nd * K), new Float64Array(nd * K)];
  const p = new Float32Array(x.length);
  const [ceSum, nValid] = softmaxSums(x, t, n, K, o, p, inter, sPred, sGt);
  const ce = nValid > 0 ? ceSum / nValid : 0;
  const { dc, dI, dS } = diceTerms(inter, sPred, sGt, nd, K, k0, o.smooth);
  const dice = K > k0 ? -dc : 0;
  const [wCe, wDice] = [o.weightCe ?? 1, o.weightDice ?? 1];
  const loss = wCe * ce + wDice * dice;
  if (!grad) return { loss, ce, dice };
  const ceScale = nValid > 0 ? (wCe * o.scale) / nValid : 0;
  const diceScale = wDice * o.scale;
  for (let b = 0; b < n; b++) {
    const base = b * K * sp;
    const di = (o.batchDice ? 0 : b) * K;
    for (let v = 0; v < sp; v++) {
      const lab = t[b * sp + v]!;
      if (o.ignoreLabel !== undefined && lab === o.ignoreLabel) {
        for (let k = 0; k < K; k++) grad[base + k * sp + v] = 0;
        continue;
      }
      let pg = 0;
      for (let k = k0; k < K; k++) pg += p[base + k * sp + v]! * (dS[di + k]! + (k === lab ? dI[di + k]! : 0));
      for (let k = 0; k < K; k++) {
        const pk = p[base + k * sp + v]!;
        const gk = k < k0 ? 0 : dS[di + k]! + (k === lab ? dI[di + k]! : 0);
        grad[base + k * sp + v] = diceScale * pk * (gk - pg) + ceScale * (pk - (k === lab ? 1 : 0));
      }
    }
  }
  return { loss, ce, dice };
}

/** BCE + Dice sums of the region level; returns `[bceSum, nValid]`. */
function sigmoidSums(x: Float32Array, t: Labels, n: number, sets: Set<number>[], o: LevelOptions, inter: Float64Array, sPred: Float64Array, sGt: Float64Array): [number, number] {
  const R = sets.length;
  const sp = x.length / (n * R);
  let bce = 0;
  let nValid = 0;
  for (let b = 0; b < n; b++)
    for (let v = 0; v < sp; v++) {
      const lab = t[b * sp + v]!;
      if (o.ignoreLabel !== undefined && lab === o.ignoreLabel) continue;
      nValid++;
      const di = (o.batchDice ? 0 : b) * R;
      for (let r = 0; r < R; r++) {
        const z = x[(b * R + r) * sp + v]!;
        const y = sets[r]!.has(lab) ? 1 : 0;
        bce += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
        const pr = 1 / (1 + Math.exp(-z));
        sPred[di + r] += pr;
        if (y) {
          inter[di + r] += pr;
          sGt[di + r] += 1;
        }
      }
    }
  return [bce, nValid];
}

/**
 * One region level (`DC_and_BCE_loss`, do_bg true): logits `[n, R, ...]`, channel r against `label in regions[r]`.
 * BCE is the mean over all elements, or with an ignore label nnU-Net's masked form `sum(bce mask) / sum(mask)` over
 * annotated voxels (summed over the R channels); the Dice sums are masked likewise. Writes `scale * dL/dx` into
 * `grad` (skipped when null); returns the weighted loss and the unweighted parts.
 */
export function sigmoidDcBceLevel(x: Float32Array, t: Labels, n: number, regions: number[][], o: LevelOptions, grad: Float32Array | null): LevelLoss {
  const R = regions.length;
  const sp = x.length / (n * R);
  const sets = regions.map((r) => new Set(r));
  const nd = o.batchDice ? 1 : n;
  const [inter, sPred, sGt] = [new Float64Array(nd * R), new Float64Array(nd * R), new Float64Array(nd * R)];
  const [bce, nValid] = sigmoidSums(x, t, n, sets, o, inter, sPred, sGt);
  const masked = o.ignoreLabel !== undefined;
  const bceDen = masked ? Math.max(nValid, DENOM_MIN) : n * R * sp;
  const ce = masked && nValid === 0 ? 0 : bce / bceDen;
  const { dc, dI, dS } = diceTerms(inter, sPred, sGt, nd, R, 0, o.smooth);
  const [wCe, wDice] = [o.weightCe ?? 1, o.weightDice ?? 1];
  const loss = wCe * ce - wDice * dc;
  if (!grad) return { loss, ce, dice: -dc };
  for (let b = 0; b < n; b++)
    for (let v = 0; v < sp; v++) {
      const lab = t[b * sp + v]!;
      const di = (o.batchDice ? 0 : b) * R;
      const ignored = masked && lab === o.ignoreLabel;
      for (let r = 0; r < R; r++) {
        const i = (b * R + r) * sp + v;
        if (ignored) {
          grad[i] = 0;
          continue;
        }
        const pr = 1 / (1 + Math.exp(-x[i]!));
        const y = sets[r]!.has(lab) ? 1 : 0;
        const gp = dS[di + r]! + (y ? dI[di + r]! : 0);
        grad[i] = o.scale * ((wCe * (pr - y)) / bceDen + wDice * gp * pr * (1 - pr));
      }
    }
  return { loss, ce, dice: -dc };
}

/** Nearest-exact source indices `min(n - 1, floor((i + 0.5) n / out))` (nnU-Net `DownsampleSegForDSTransform`). */
export function nearestIndices(nIn: number, nOut: number): Int32Array {
  return Int32Array.from({ length: nOut }, (_, i) => Math.min(nIn - 1, Math.floor(((i + 0.5) * nIn) / nOut)));
}
