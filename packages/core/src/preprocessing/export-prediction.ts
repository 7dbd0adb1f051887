import type { Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { getConfiguration } from '../planning/plans-io.js';
import { resampleOptionsFromKwargs, resolveResampler, targetSpacingFor } from './resample-config.js';
import { permuteList, transposeSpatial } from './transpose.js';
import type { CaseProperties } from './types.js';

export interface ExportOptions {
  /** Also return softmax probabilities `[K, z, y, x]` on the original grid (background 1 outside the bbox). */
  returnProbabilities?: boolean;
  /**
   * Spline order along the separately resampled (low-resolution) axis. Default: the plans'
   * `resampling_fn_probabilities_kwargs.order_z` (nnU-Net: 0, nearest). Deviation, opt-in: 1 (linear) gives every
   * original slice its own result where nnU-Net copies one preprocessed slice to several original slices (bad
   * input B24: a 3 mm model applied to 2 mm data).
   */
  orderZ?: number;
  /**
   * Region-based models (dataset.json `regions_class_order`): outputs are region logits, probabilities are
   * `sigmoid`, and region i writes label `regionsClassOrder[i]` where its probability is > 0.5, later regions
   * overwriting earlier ones (nnU-Net `LabelManager.convert_probabilities_to_segmentation`). Outside the crop box
   * every probability is 0.
   */
  regionsClassOrder?: number[];
}

export interface ExportResult {
  /** Label map `[z, y, x]` on the original grid (input axis order), Int16. */
  seg: Int16Array;
  /** Softmax probabilities `[K, z, y, x]` float32 when asked for. */
  probabilities?: Float32Array;
}

/**
 * nnU-Net v2 `convert_predicted_logits_to_segmentation_with_correct_shape` (RULES.md §14 export order): resample the
 * logits `[K, ...preprocessed]` to `shape_after_cropping_and_before_resampling` with the plans'
 * `resampling_fn_probabilities_kwargs` (default order 1, order_z 0, see `ExportOptions.orderZ`; separate z decided from the configuration
 * spacing and the case spacing), softmax, argmax (first maximum wins, as numpy) (or, for region-based models,
 * sigmoid and `regionsClassOrder`), paste into the bbox of
 * `shape_before_cropping` (0 elsewhere), apply `transpose_backward`.
 * Without probabilities, logits are resampled one class at a time with a running argmax (memory: two cropped-size
 * arrays plus one class), which gives the same labels since softmax preserves the argmax.
 * @param logits `[K, z, y, x]` float32 in the preprocessed grid
 * @param shape `[K, z, y, x]`
 */
export function exportPrediction(logits: Float32Array, shape: number[], properties: CaseProperties, plans: Plans,
  configuration: string, registry: Registry, opts: ExportOptions = {}): ExportResult {
  const cfg = getConfiguration(plans, configuration);
  const [K, ...sp] = shape as [number, number, number, number];
  const n = sp[0]! * sp[1]! * sp[2]!;
  if (logits.length !== K * n) throw new RangeError(`exportPrediction: logits length ${logits.length} != shape ${shape}`);
  const tf = plans.transpose_forward;
  const tb = plans.transpose_backward;
  const spacingT = permuteList(properties.spacing, tf);
  const current = targetSpacingFor(cfg.spacing, spacingT);
  const cropShape = properties.shape_after_cropping_and_before_resampling;
  const m = cropShape[0]! * cropShape[1]! * cropShape[2]!;
  const resampler = resolveResampler(registry, cfg.resampling_fn_probabilities);
  const planned = resampleOptionsFromKwargs(cfg.resampling_fn_probabilities_kwargs, current, spacingT, 1);
  const ropts = { ...planned, orderZ: opts.orderZ ?? planned.orderZ };
  const same = sp.every((s, i) => s === cropShape[i]);
  const resample = (k: number): Float32Array => {
    const ch = logits.subarray(k * n, (k + 1) * n);
    return same ? ch : resampler.resampleData(ch, [1, ...sp], cropShape, ropts);
  };
  const label = new Int16Array(m);
  let probs: Float32Array | null = null;
  const regions = opts.regionsClassOrder ?? null;
  if (regions && regions.length !== K) throw new RangeError(`exportPrediction: ${K} outputs for ${regions.length} regions`);
  if (opts.returnProbabilities) {
    probs = new Float32Array(K * m);
    for (let k = 0; k < K; k++) probs.set(resample(k), k * m);
    if (regions) sigmoidRegions(probs, regions, m, label);
    else softmaxArgmax(probs, K, m, label);
  } else if (regions) {
    for (let k = 0; k < K; k++) {
      const ch = resample(k);
      for (let i = 0; i < m; i++) if (ch[i]! > 0) label[i] = regions[k]!;
    }
  } else runningArgmax(K, m, resample, label);
  const before = properties.shape_before_cropping;
  const bbox = properties.bbox_used_for_cropping;
  const full = pasteIntoBbox(label, cropShape, before, bbox, 1, 0, Int16Array);
  const seg = transposeSpatial(full, [1, ...before], tb).data;
  const result: ExportResult = { seg };
  if (probs) {
    const fullP = pasteIntoBbox(probs, cropShape, before, bbox, K, 0, Float32Array, !regions);
    result.probabilities = transposeSpatial(fullP, [K, ...before], tb).data;
  }
  return result;
}

/** Label map by a running argmax over classes resampled one at a time (first maximum wins, as numpy). */
function runningArgmax(K: number, m: number, resample: (k: number) => Float32Array, label: Int16Array): void {
  const best = new Float32Array(m).fill(-Infinity);
  for (let k = 0; k < K; k++) {
    const ch = resample(k);
    for (let i = 0; i < m; i++) {
      if (ch[i]! > best[i]!) {
        best[i] = ch[i]!;
        label[i] = k;
      }
    }
  }
}

/** In-place sigmoid of region logits `[R, m]` and the region labels (`regionsClassOrder`, later wins) into `label`. */
function sigmoidRegions(p: Float32Array, order: number[], m: number, label: Int16Array): void {
  for (let r = 0; r < order.length; r++) {
    for (let i = 0; i < m; i++) {
      const v = 1 / (1 + Math.exp(-p[r * m + i]!));
      p[r * m + i] = v;
      if (v > 0.5) label[i] = order[r]!;
    }
  }
}

/** In-place softmax over `K` channels of `[K, m]` (float64 per voxel) and the argmax into `label`. */
function softmaxArgmax(p: Float32Array, K: number, m: number, label: Int16Array): void {
  for (let i = 0; i < m; i++) {
    let mx = -Infinity;
    let arg = 0;
    for (let k = 0; k < K; k++) {
      const v = p[k * m + i]!;
      if (v > mx) {
        mx = v;
        arg = k;
      }
    }
    label[i] = arg;
    let s = 0;
    for (let k = 0; k < K; k++) s += Math.exp(p[k * m + i]! - mx);
    for (let k = 0; k < K; k++) p[k * m + i] = Math.exp(p[k * m + i]! - mx) / s;
  }
}

/**
 * Places `[ch, ...cropShape]` into a `[ch, ...fullShape]` array filled with `fill` at `bbox`; with `bgOne`, channel 0
 * is 1 outside the bbox (background probability, as nnU-Net's `revert_cropping_on_probabilities`).
 */
export function pasteIntoBbox<T extends Int16Array | Float32Array>(src: T, cropShape: readonly number[],
  fullShape: readonly number[], bbox: readonly (readonly [number, number])[], ch: number, fill: number,
  Ctor: new (n: number) => T, bgOne = false): T {
  const [Z, Y, X] = fullShape as [number, number, number];
  const [cz, cy, cx] = cropShape as [number, number, number];
  const [[z0], [y0], [x0]] = bbox as [[number, number], [number, number], [number, number]];
  const vol = Z * Y * X;
  const out = new Ctor(ch * vol);
  if (fill !== 0) out.fill(fill);
  if (bgOne) out.fill(1, 0, vol);
  for (let c = 0; c < ch; c++) {
    for (let z = 0; z < cz; z++) {
      for (let y = 0; y < cy; y++) {
        const s = ((c * cz + z) * cy + y) * cx;
        const d = c * vol + ((z + z0) * Y + (y + y0)) * X + x0;
        out.set(src.subarray(s, s + cx) as never, d);
      }
    }
  }
  return out;
}

/**
 * The previous stage's prediction for the next stage of a cascade, resampled ONCE from its logits (nnU-Net v2
 * `nnUNetTrainer.perform_actual_validation` -> `export_prediction.resample_and_save`): the logits `[K, ...sp]` of the
 * previous stage (e.g. `3d_lowres`) on its preprocessed grid are resampled to `targetShape`, the next stage's
 * preprocessed `[z, y, x]` of the same case (same crop box), with the previous configuration's
 * `resampling_fn_probabilities` and its kwargs; as in nnU-Net, the previous configuration's spacing is both the
 * current and the target spacing (it decides the separate-z axis). Then argmax (first maximum wins; region-based
 * models: `regionsClassOrder` where the region logit is > 0, i.e. sigmoid > 0.5). No softmax is needed: it keeps the
 * argmax, so the classes are resampled one at a time with a running argmax.
 * @param logits `[K, z, y, x]` float32 on the previous stage's preprocessed grid
 * @param shape `[K, z, y, x]`
 * @param targetShape the next stage's preprocessed `[z, y, x]`
 * @returns the label map `[z, y, x]` on `targetShape`, Int16
 * @throws RangeError when `logits` does not have `shape`'s size or `regionsClassOrder` does not have K entries
 */
export function resampleLogitsForNextStage(logits: Float32Array, shape: number[], targetShape: number[], properties: CaseProperties,
  plans: Plans, configuration: string, registry: Registry, regionsClassOrder?: number[]): Int16Array {
  const cfg = getConfiguration(plans, configuration);
  const [K, ...sp] = shape as [number, number, number, number];
  const n = sp[0]! * sp[1]! * sp[2]!;
  if (logits.length !== K * n) throw new RangeError(`resampleLogitsForNextStage: logits length ${logits.length} != shape ${shape}`);
  if (regionsClassOrder && regionsClassOrder.length !== K) throw new RangeError(`resampleLogitsForNextStage: ${K} outputs for ${regionsClassOrder.length} regions`);
  const spacing = targetSpacingFor(cfg.spacing, permuteList(properties.spacing, plans.transpose_forward));
  const resampler = resolveResampler(registry, cfg.resampling_fn_probabilities);
  const ropts = resampleOptionsFromKwargs(cfg.resampling_fn_probabilities_kwargs, spacing, spacing, 1);
  const same = sp.every((s, i) => s === targetShape[i]);
  const resample = (k: number): Float32Array => {
    const ch = logits.subarray(k * n, (k + 1) * n);
    return same ? ch : resampler.resampleData(ch, [1, ...sp], targetShape, ropts);
  };
  const m = targetShape[0]! * targetShape[1]! * targetShape[2]!;
  const label = new Int16Array(m);
  if (regionsClassOrder) {
    for (let k = 0; k < K; k++) {
      const ch = resample(k);
      for (let i = 0; i < m; i++) if (ch[i]! > 0) label[i] = regionsClassOrder[k]!;
    }
  } else runningArgmax(K, m, resample, label);
  return label;
}
