import type { Loss, LossFactory, LossInput, LossOptions, LossOutput, Tensor } from '@nnunet-ts/core';

/** Soft Dice smoothing and denominator floor (spec 1.16: `MemoryEfficientSoftDiceLoss`). */
const SMOOTH = 1e-5;
const DENOM_MIN = 1e-8;

/** Scratch buffers reused across calls of one loss instance (one per deep supervision level). */
interface Scratch {
  probs: Float32Array;
}

/**
 * One level of `DC_and_CE_loss`: softmax cross-entropy (mean over annotated voxels) plus the negative soft
 * Dice over foreground classes. Logits `[n, K, z, y, x]`, target `[n, 1, z, y, x]` int labels in [0, K)
 * (or `ignoreLabel`). Returns the level's loss and writes `scale * dL/dlogits` into `grad`.
 * Batch Dice sums intersections and sums over the batch axis before the ratio; otherwise per sample and class,
 * then averaged. With an ignore label both terms are masked; CE is 0 when no voxel is annotated (spec 1.16).
 * `weights` scale the two terms (nnU-Net `weight_ce`, `weight_dice`, both 1 by default); `ce` and `dice` are returned
 * unweighted. Throws `Error` on shape mismatch or a label outside [0, K).
 */
export function dcAndCeLevel(logits: Tensor, target: { data: Int16Array; shape: number[] }, batchDice: boolean, ignoreLabel: number | undefined, scale: number, grad: Float32Array | null, scratch: Scratch, weights = { ce: 1, dice: 1 }): { loss: number; ce: number; dice: number } {
  const [n, K] = logits.shape as [number, number];
  const sp = logits.data.length / (n * K);
  if (target.data.length !== n * sp || target.shape[0] !== n) throw new Error(`DC_and_CE_loss: target shape [${target.shape}] does not match logits [${logits.shape}]`);
  if (scratch.probs.length !== logits.data.length) scratch.probs = new Float32Array(logits.data.length);
  const level: Level = { n, K, sp, nd: batchDice ? 1 : n, batchDice, ignoreLabel, x: logits.data, t: target.data, p: scratch.probs };
  const stats = softmaxAndCounts(level);
  const ce = stats.nValid > 0 ? stats.ceSum / stats.nValid : 0;
  const dc = diceTerms(level, stats);
  const dice = K > 1 ? -dc.dcMean : 0;
  if (grad) {
    const ceScale = stats.nValid > 0 ? (weights.ce * scale) / stats.nValid : 0;
    writeGradient(level, dc, grad, ceScale, weights.dice * scale);
  }
  return { loss: weights.ce * ce + weights.dice * dice, ce, dice };
}

/** One deep supervision level: logits `x` `[n, K, sp]`, labels `t` `[n, sp]`, softmax `p` (written), Dice groups `nd`. */
interface Level {
  n: number;
  K: number;
  sp: number;
  nd: number;
  batchDice: boolean;
  ignoreLabel: number | undefined;
  x: Float32Array;
  t: Int16Array;
  p: Float32Array;
}

/** Softmax sums of one level: CE sum over annotated voxels and the soft Dice sums per (group, class). */
interface Counts {
  ceSum: number;
  nValid: number;
  inter: Float64Array;
  sPred: Float64Array;
  sGt: Float64Array;
}

/** Softmax per voxel (stable) into `p`; CE sum, annotated voxel count and per (group, foreground class) Dice sums. */
function softmaxAndCounts(l: Level): Counts {
  const { n, K, sp, x, t, p, ignoreLabel } = l;
  let ceSum = 0;
  let nValid = 0;
  const inter = new Float64Array(l.nd * K);
  const sPred = new Float64Array(l.nd * K);
  const sGt = new Float64Array(l.nd * K);
  for (let b = 0; b < n; b++) {
    const base = b * K * sp;
    const di = (l.batchDice ? 0 : b) * K;
    for (let v = 0; v < sp; v++) {
      const lab = t[b * sp + v]!;
      const valid = ignoreLabel === undefined || lab !== ignoreLabel;
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
      for (let k = 1; k < K; k++) {
        const pk = p[base + k * sp + v]!;
        sPred[di + k] += pk;
        if (k === lab) {
          inter[di + k] += pk;
          sGt[di + k] += 1;
        }
      }
    }
  }
  return { ceSum, nValid, inter, sPred, sGt };
}

/** Mean soft Dice over (group, foreground class) and its derivatives by the intersection and by the predicted sum. */
function diceTerms(l: Level, c: Counts): { dcMean: number; dDcdI: Float64Array; dDcdS: Float64Array } {
  const { K, nd } = l;
  const nTerms = nd * (K - 1);
  let dcMean = 0;
  const dDcdI = new Float64Array(nd * K);
  const dDcdS = new Float64Array(nd * K);
  for (let d = 0; d < nd; d++)
    for (let k = 1; k < K; k++) {
      const i = d * K + k;
      const raw = c.sGt[i]! + c.sPred[i]! + SMOOTH;
      const den = Math.max(raw, DENOM_MIN);
      const num = 2 * c.inter[i]! + SMOOTH;
      dcMean += num / den / nTerms;
      // L_dice = -mean(dc): d/dI = -2/den/nTerms ; d/dSpred = +num/den^2/nTerms (if not clamped)
      dDcdI[i] = -2 / den / nTerms;
      dDcdS[i] = raw > DENOM_MIN ? num / (den * den) / nTerms : 0;
    }
  return { dcMean, dDcdI, dDcdS };
}

/** `grad = diceScale * dL_dice/dlogits + ceScale * (p - onehot)`; 0 at ignored voxels. */
function writeGradient(l: Level, dc: { dDcdI: Float64Array; dDcdS: Float64Array }, grad: Float32Array, ceScale: number, diceScale: number): void {
  const { n, K, sp, t, p, ignoreLabel } = l;
  const { dDcdI, dDcdS } = dc;
  for (let b = 0; b < n; b++) {
    const base = b * K * sp;
    const di = (l.batchDice ? 0 : b) * K;
    for (let v = 0; v < sp; v++) {
      const lab = t[b * sp + v]!;
      if (ignoreLabel !== undefined && lab === ignoreLabel) {
        for (let k = 0; k < K; k++) grad[base + k * sp + v] = 0;
        continue;
      }
      // g_k = dL_dice/dp_k (0 for background); dL/dz_k = p_k (g_k - sum_j p_j g_j) + CE part (p_k - y_k)/N
      let pg = 0;
      for (let k = 1; k < K; k++) {
        const gk = dDcdS[di + k]! + (k === lab ? dDcdI[di + k]! : 0);
        pg += p[base + k * sp + v]! * gk;
      }
      for (let k = 0; k < K; k++) {
        const pk = p[base + k * sp + v]!;
        const gk = k === 0 ? 0 : dDcdS[di + k]! + (k === lab ? dDcdI[di + k]! : 0);
        grad[base + k * sp + v] = diceScale * pk * (gk - pg) + ceScale * (pk - (k === lab ? 1 : 0));
      }
    }
  }
}

/**
 * nnU-Net's `DC_and_CE_loss` (`weightCe`, `weightDice`, default 1 and 1) with deep supervision (spec 1.15-1.16): the loss is
 * `sum_l w_l * (CE_l + Dice_l)` over levels (`deepSupervisionWeights`, highest resolution first; default all
 * weight on level 0), and `grads[l]` is dL/dlogits of level l, null for weight-0 levels.
 * `parts` reports the weighted `ce` and `dice`.
 */
export function dcAndCeLoss(opts: LossOptions): Loss {
  const scratch: Scratch[] = [];
  const weights = { ce: opts.weightCe ?? 1, dice: opts.weightDice ?? 1 };
  return {
    name: 'DC_and_CE_loss',
    compute(input: LossInput): LossOutput {
      const L = input.outputs.length;
      if (input.targets.length !== L) throw new Error(`DC_and_CE_loss: ${L} outputs but ${input.targets.length} targets`);
      const w = opts.deepSupervisionWeights ?? [1, ...new Array<number>(L - 1).fill(0)];
      if (w.length < L) throw new Error(`DC_and_CE_loss: ${w.length} deep supervision weights for ${L} outputs`);
      const ignore = input.ignoreLabel ?? opts.ignoreLabel;
      let loss = 0;
      let ce = 0;
      let dice = 0;
      const grads: (Tensor | null)[] = [];
      for (let l = 0; l < L; l++) {
        const o = input.outputs[l]!;
        if (!w[l]) {
          grads.push(null);
          continue;
        }
        scratch[l] ??= { probs: new Float32Array(0) };
        const g = new Float32Array(o.data.length);
        const r = dcAndCeLevel(o, input.targets[l]!, opts.batchDice, ignore, w[l]!, g, scratch[l]!, weights);
        loss += w[l]! * r.loss;
        ce += w[l]! * weights.ce * r.ce;
        dice += w[l]! * weights.dice * r.dice;
        grads.push({ data: g, shape: o.shape.slice() });
      }
      return { loss, grads, parts: { ce, dice } };
    },
  };
}

/** Loss plugin `DC_and_CE_loss`. */
export const dcAndCeLossFactory: LossFactory = { name: 'DC_and_CE_loss', create: dcAndCeLoss };
