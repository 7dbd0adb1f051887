import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from '../registry/registry.js';
import { DataError } from '../util/errors.js';
import { listFiles, stripEnding } from '../dataset/files.js';
import { readImage } from '../dataset/read.js';
import { compareGrids } from '../dataset/geometry.js';
import { distinctValues } from '../dataset/validate.js';
import type { MedicalImage } from '../image/image.js';
import { classKey, computeMetrics, nanmean, type ClassMetrics } from './metrics.js';

/** summary.json as nnU-Net writes it (`metric_per_case`, `mean`, `foreground_mean`). */
export interface EvaluationSummary {
  metric_per_case: { metrics: Record<string, ClassMetrics>; prediction_file: string; reference_file: string }[];
  mean: Record<string, Record<string, number>>;
  foreground_mean: Record<string, number>;
}

const METRIC_NAMES: (keyof ClassMetrics)[] = ['Dice', 'IoU', 'FP', 'TP', 'FN', 'TN', 'n_pred', 'n_ref'];

/**
 * Aggregate per-case metrics: `mean[class][metric]` = nanmean over cases; `foreground_mean[metric]` = mean over
 * classes of those class means (nnU-Net `compute_metrics_on_folder`).
 */
export function summarize(perCase: EvaluationSummary['metric_per_case'], classes: (number | number[])[]): EvaluationSummary {
  const mean: Record<string, Record<string, number>> = {};
  for (const c of classes) {
    const k = classKey(c);
    mean[k] = {};
    for (const m of METRIC_NAMES) mean[k]![m] = nanmean(perCase.map((pc) => pc.metrics[k]![m]));
  }
  const foreground_mean: Record<string, number> = {};
  for (const m of METRIC_NAMES) foreground_mean[m] = nanmean(classes.map((c) => mean[classKey(c)]![m]!));
  return { metric_per_case: perCase, mean, foreground_mean };
}

/** JSON text with NaN written as `NaN` (as Python's json does), so nnU-Net tools read it back. */
export function summaryToJson(s: unknown): string {
  return JSON.stringify(s, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? `__NUM__${v}` : v), 2).replace(/"__NUM__(NaN|Infinity|-Infinity)"/g, '$1') + '\n';
}

/** Parse JSON that may contain bare NaN/Infinity (Python style). */
export function parseJsonWithNaN(text: string): unknown {
  return JSON.parse(text.replace(/:\s*(-?Infinity|NaN)\b/g, ': "__NUM__$1"'), (_k, v) =>
    typeof v === 'string' && v.startsWith('__NUM__') ? Number(v.slice(7)) : v,
  );
}

/** Beyond this many values outside the evaluated labels, a "segmentation" is most likely an image. */
const MAX_UNDECLARED_VALUES = 50;

/**
 * Check that `im` (read from `file`) is a label map before Dice is computed on it: one channel, integer voxel values
 * (any data type: a label map stored as float with exact integers passes, as nnU-Net's `seg == label` comparison
 * treats it), and values among 0, the evaluated classes and the ignore label; others are warned about (they count as
 * background, as in nnU-Net).
 * @throws DataError naming the file for several channels, non-integer values (an image, or a label map with rounding
 *   noise), or more than 50 values outside the labels (an image stored as integers).
 */
export function checkLabelMap(im: MedicalImage, file: string, role: 'prediction' | 'reference', classes: (number | number[])[], opts: { ignoreLabel?: number; warn?: (s: string) => void } = {}): number[] {
  const fix = `pass ${role === 'prediction' ? 'the predicted segmentations (-p)' : 'the reference segmentations (-r, e.g. labelsTs)'}, not images`;
  if (im.shape[0] !== 1) throw new DataError(`the ${role} holds ${im.shape[0]} channels: a segmentation is one label map`, { file, hint: fix });
  const { values, nonInteger } = distinctValues(im.data);
  if (nonInteger.length) {
    const near = nonInteger.every((v) => Math.abs(v - Math.round(v)) < 1e-3);
    throw new DataError(`the ${role} is not a label map: it holds non-integer values such as ${nonInteger[0]}`, {
      file,
      hint: near ? 'the values are close to integers: the label map was saved as float; round it and save it as an integer type (uint8)' : `${fix}; a label map holds integer class values`,
    });
  }
  const known = new Set<number>([0, ...classes.flat(), ...(opts.ignoreLabel === undefined ? [] : [opts.ignoreLabel])]);
  const extra = values.filter((v) => !known.has(v));
  if (extra.length > MAX_UNDECLARED_VALUES) {
    throw new DataError(`the ${role} is not a label map of these labels: it holds ${extra.length >= 999 ? 'at least ' : ''}${extra.length} values outside 0 and the labels (${[...known].filter((v) => v).join(', ')})`, { file, hint: `${fix}, or evaluate the labels it holds (--labels / --dataset-json)` });
  }
  if (extra.length) opts.warn?.(`warning: ${file}: ${role} values ${extra.join(', ')} are not among the evaluated labels (${[...known].join(', ')}) and count as background`);
  return values;
}

/**
 * After a folder's evaluation: warn when the evaluated labels do not match the segmentations, which is what an
 * unrelated dataset.json (or a wrong `-l`) gives: classes that occur in no reference and no prediction (Dice NaN,
 * left out of the means) and reference values that are not among the labels (counted as background).
 * `labelSource` names where the labels came from (the dataset.json), for the message.
 */
function warnLabelMismatch(classes: (number | number[])[], seen: { prediction: Set<number>; reference: Set<number> }, opts: { ignoreLabel?: number; labelSource?: string; warn?: (s: string) => void }): void {
  const fmt = (c: number | number[]) => (Array.isArray(c) ? `(${c.join(', ')})` : String(c));
  const absent = classes.filter((c) => !(Array.isArray(c) ? c : [c]).some((v) => seen.reference.has(v) || seen.prediction.has(v)));
  const known = new Set<number>([0, ...classes.flat(), ...(opts.ignoreLabel === undefined ? [] : [opts.ignoreLabel])]);
  const outside = [...seen.reference].filter((v) => !known.has(v)).sort((a, b) => a - b);
  if (!absent.length && !outside.length) return;
  const parts: string[] = [];
  if (absent.length) parts.push(`label(s) ${absent.map(fmt).join(', ')} occur in no reference and no prediction (Dice NaN, left out of the means)`);
  if (outside.length) parts.push(`the references hold value(s) ${outside.slice(0, 20).join(', ')}${outside.length > 20 ? ', ...' : ''}, which are not evaluated labels (counted as background)`);
  const check = opts.labelSource ? `is ${opts.labelSource} the dataset.json of these segmentations? (or pass -l with their labels)` : 'check the labels evaluated (-l or -d)';
  opts.warn?.(`warning: the evaluated labels (${classes.map(fmt).join(', ')}) do not match the segmentations: ${parts.join('; ')}; ${check}`);
}

import { writeFileAtomicSync } from '../util/atomic.js';
export { writeFileAtomicSync };

/**
 * Evaluate every prediction in `predDir` against the same-named file in `refDir` (files ending in `fileEnding`).
 * Writes `outFile` (default `<predDir>/summary.json`) atomically and returns the summary.
 * Every reference needs a prediction and every prediction its reference (as nnU-Net); `allowMissing` evaluates the
 * cases both folders hold and warns, naming the references without a prediction and the predictions without a
 * reference (extra files). Labels that do not match the segmentations (a class in no file, reference values outside
 * the labels) are warned about once (`labelSource`: where the labels came from, for the message).
 * @throws DataError naming the files when a reference or prediction is unmatched (without `allowMissing`), no case
 *   is in both folders, or a prediction's grid differs from its reference.
 */
export async function evaluateFolder(
  predDir: string,
  refDir: string,
  classes: (number | number[])[],
  registry: Registry,
  opts: { fileEnding?: string; ignoreLabel?: number; outFile?: string | null; allowMissing?: boolean; warn?: (s: string) => void; labelSource?: string } = {},
): Promise<EvaluationSummary> {
  const ending = opts.fileEnding ?? '.nii.gz';
  if (!existsSync(predDir)) throw new DataError('prediction folder not found', { file: predDir, hint: 'pass -p <folder> with the predicted segmentations' });
  if (!existsSync(refDir)) throw new DataError('reference folder not found', { file: refDir, hint: 'pass -r <folder> with the reference segmentations (e.g. labelsTr or labelsTs)' });
  const images = (dir: string) => listFiles(dir).filter((n) => !n.startsWith('.') && stripEnding(n, ending) && !stripEnding(n, ending)!.alt);
  const preds = images(predDir);
  if (!preds.length) throw new DataError(`no predictions ending in '${ending}' found`, { file: predDir });
  const refs = images(refDir);
  const list = (names: string[]) => `${names.slice(0, 20).join(', ')}${names.length > 20 ? `, ... (${names.length - 20} more)` : ''}`;
  // as nnU-Net: every reference needs a prediction (unless allowMissing, which warns)
  const missing = refs.filter((n) => !preds.includes(n));
  if (missing.length) {
    if (!opts.allowMissing) {
      throw new DataError(`${missing.length} reference(s) in ${refDir} have no prediction: ${list(missing)}`, { file: predDir, hint: 'predict them, or pass --allow-missing to evaluate only the cases predicted' });
    }
    opts.warn?.(`warning: ${missing.length} reference(s) have no prediction and are not evaluated: ${list(missing)}`);
  }
  // a prediction needs its reference (nnU-Net: FileNotFoundError); allowMissing evaluates the cases both folders hold
  const extra = preds.filter((n) => !refs.includes(n));
  if (extra.length) {
    if (!opts.allowMissing) {
      throw new DataError(`${extra.length} prediction(s) in ${predDir} have no reference in ${refDir}: ${list(extra)}`, { file: join(refDir, extra[0]!), hint: 'remove them from the prediction folder, or pass --allow-missing to evaluate only the cases both folders hold (the others are listed as a warning)' });
    }
    opts.warn?.(`warning: ${extra.length} prediction(s) have no reference in ${refDir} and are not evaluated: ${list(extra)}`);
  }
  const evaluated = preds.filter((n) => refs.includes(n));
  if (!evaluated.length) throw new DataError(`no prediction in ${predDir} has a reference of the same name in ${refDir}`, { file: predDir, hint: `the file names must match (CASE${ending} in both folders)` });
  const perCase: EvaluationSummary['metric_per_case'] = [];
  const seen = { prediction: new Set<number>(), reference: new Set<number>() };
  for (const name of evaluated) {
    const predFile = join(predDir, name);
    const refFile = join(refDir, name);
    const [p, r] = [await readImage(registry, predFile), await readImage(registry, refFile)];
    for (const v of checkLabelMap(p, predFile, 'prediction', classes, opts)) seen.prediction.add(v);
    for (const v of checkLabelMap(r, refFile, 'reference', classes, opts)) seen.reference.add(v);
    const d = compareGrids(p, r);
    if (d.length) throw new DataError(`prediction and reference ${refFile} are on different grids: ${d.join('; ')}`, { file: predFile });
    perCase.push({ metrics: computeMetrics(p.data, r.data, classes, opts.ignoreLabel), prediction_file: predFile, reference_file: refFile });
  }
  warnLabelMismatch(classes, seen, opts);
  const summary = summarize(perCase, classes);
  const out = opts.outFile === undefined ? join(predDir, 'summary.json') : opts.outFile;
  if (out) writeFileAtomicSync(out, summaryToJson(summary));
  return summary;
}
