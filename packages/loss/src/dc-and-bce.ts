import { NnunetError, type Loss, type LossFactory, type LossInput, type LossOptions, type LossOutput, type Tensor } from '@nnunet-ts/core';

const SMOOTH = 1e-5;
const DENOM_MIN = 1e-8;

/** Options of `DC_and_BCE_loss`: the contract's options plus the regions (label sets) of region-based training. */
export interface RegionLossOptions extends LossOptions {
  /** Region i = voxels whose label is in `regions[i]` (dataset.json labels given as lists; spec 1.16). */
  regions?: number[][];
}

/**
 * One level of `DC_and_BCE_loss` (region-based training, spec 1.16): sigmoid BCE-with-logits plus the negative
 * soft Dice over all region channels (`do_bg` true). Logits `[n, R, z, y, x]`, labels `[n, 1, z, y, x]` turned into
 * region masks. Without an ignore label BCE is the mean over all `n*R*voxels` elements; with one, nnU-Net's masked
 * form `sum(bce * mask) / sum(mask)` over annotated voxels (summed over the R channels, as nnU-Net does) and the
 * Dice sums are masked. Writes `scale * dL/dlogits` into `grad`.
 */
export function dcAndBceLevel(logits: Tensor, target: { data: Int16Array; shape: number[] }, regions: number[][], batchDice: boolean, ignoreLabel: number | undefined, scale: number, grad: Float32Array | null): { loss: number; ce: number; dice: number } {
  const [n, R] = logits.shape as [number, number];
  if (R !== regions.length) throw new Error(`DC_and_BCE_loss: ${R} output channels for ${regions.length} regions`);
  const sp = logits.data.length / (n * R);
  if (target.data.length !== n * sp) throw new Error(`DC_and_BCE_loss: target shape [${target.shape}] does not match logits [${logits.shape}]`);
  const sets = regions.map((r) => new Set(r));
  const x = logits.data;
  const t = target.data;
  const nd = batchDice ? 1 : n;
  const inter = new Float64Array(nd * R);
  const sPred = new Float64Array(nd * R);
  const sGt = new Float64Array(nd * R);
  let bce = 0;
  let nValid = 0;
  const masked = ignoreLabel !== undefined;
  for (let b = 0; b < n; b++)
    for (let v = 0; v < sp; v++) {
      const lab = t[b * sp + v]!;
      if (masked && lab === ignoreLabel) continue;
      nValid++;
      const di = (batchDice ? 0 : b) * R;
      for (let r = 0; r < R; r++) {
        const z = x[(b * R + r) * sp + v]!;
        const y = sets[r]!.has(lab) ? 1 : 0;
        bce += Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));
        const p = 1 / (1 + Math.exp(-z));
        sPred[di + r] += p;
        if (y) {
          inter[di + r] += p;
          sGt[di + r] += 1;
        }
      }
    }
  const bceDen = masked ? Math.max(nValid, DENOM_MIN) : n * R * sp;
  const ce = masked && nValid === 0 ? 0 : bce / bceDen;
  const nTerms = nd * R;
  const dI = new Float64Array(nd * R);
  const dS = new Float64Array(nd * R);
  let dc = 0;
  for (let i = 0; i < nd * R; i++) {
    const raw = sGt[i]! + sPred[i]! + SMOOTH;
    const den = Math.max(raw, DENOM_MIN);
    const num = 2 * inter[i]! + SMOOTH;
    dc += num / den / nTerms;
    dI[i] = -2 / den / nTerms;
    dS[i] = raw > DENOM_MIN ? num / (den * den) / nTerms : 0;
  }
  if (grad)
    for (let b = 0; b < n; b++)
      for (let v = 0; v < sp; v++) {
        const lab = t[b * sp + v]!;
        const di = (batchDice ? 0 : b) * R;
        const ignored = masked && lab === ignoreLabel;
        for (let r = 0; r < R; r++) {
          const o = (b * R + r) * sp + v;
          if (ignored) {
            grad[o] = 0;
            continue;
          }
          const p = 1 / (1 + Math.exp(-x[o]!));
          const y = sets[r]!.has(lab) ? 1 : 0;
          const gp = dS[di + r]! + (y ? dI[di + r]! : 0);
          grad[o] = scale * ((p - y) / bceDen + gp * p * (1 - p));
        }
      }
  return { loss: ce - dc, ce, dice: -dc };
}

/**
 * nnU-Net's `DC_and_BCE_loss` for region-based training (weights 1 and 1) with deep supervision, as
 * `dcAndCeLoss`. Throws `NnunetError` when `regions` is missing.
 */
export function dcAndBceLoss(opts: RegionLossOptions): Loss {
  const regions = opts.regions;
  if (!regions?.length) throw new NnunetError('DC_and_BCE_loss needs the regions (label lists of dataset.json)', { hint: 'pass { regions } built from the dataset.json labels given as lists' });
  return {
    name: 'DC_and_BCE_loss',
    device: { weights: opts.deepSupervisionWeights ?? [1, ...new Array<number>(15).fill(0)], batchDice: opts.batchDice, doBackground: true, smooth: SMOOTH, ignoreLabel: opts.ignoreLabel, regions },
    compute(input: LossInput): LossOutput {
      const L = input.outputs.length;
      if (input.targets.length !== L) throw new Error(`DC_and_BCE_loss: ${L} outputs but ${input.targets.length} targets`);
      const w = opts.deepSupervisionWeights ?? [1, ...new Array<number>(L - 1).fill(0)];
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
        const g = new Float32Array(o.data.length);
        const r = dcAndBceLevel(o, input.targets[l]!, regions, opts.batchDice, ignore, w[l]!, g);
        loss += w[l]! * r.loss;
        ce += w[l]! * r.ce;
        dice += w[l]! * r.dice;
        grads.push({ data: g, shape: o.shape.slice() });
      }
      return { loss, grads, parts: { ce, dice } };
    },
  };
}

/** Loss plugin `DC_and_BCE_loss` (create with `{ regions }`). */
export const dcAndBceLossFactory: LossFactory = { name: 'DC_and_BCE_loss', create: (o) => dcAndBceLoss(o as RegionLossOptions) };
