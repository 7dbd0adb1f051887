/**
 * Segmentation metrics as nnU-Net computes them (RULES.md §20, `evaluate_predictions.py`): per class (a label value or
 * a region = set of values), confusion counts over voxels outside the ignore mask, Dice = 2TP/(2TP+FP+FN),
 * IoU = TP/(TP+FP+FN), both NaN when TP+FP+FN == 0; means use nanmean.
 */

/** Metrics of one class in one case (nnU-Net's summary.json field names). */
export interface ClassMetrics {
  Dice: number;
  IoU: number;
  FP: number;
  TP: number;
  FN: number;
  TN: number;
  n_pred: number;
  n_ref: number;
}

/** Key of a class in summary.json: `"1"` for a label, `"(1, 2)"` for a region (nnU-Net writes str(tuple)). */
export function classKey(c: number | number[]): string {
  return Array.isArray(c) ? `(${c.join(', ')})` : String(c);
}

function inClass(v: number, c: number | number[]): boolean {
  return Array.isArray(c) ? c.includes(v) : v === c;
}

/**
 * Per-class metrics of a prediction against a reference, both label maps of equal length (any voxel order).
 * `ignoreLabel`: reference voxels with that value are excluded.
 * @throws Error when lengths differ.
 */
export function computeMetrics(
  pred: ArrayLike<number>,
  ref: ArrayLike<number>,
  classes: (number | number[])[],
  ignoreLabel?: number,
): Record<string, ClassMetrics> {
  if (pred.length !== ref.length) throw new Error(`prediction has ${pred.length} voxels, reference ${ref.length}`);
  const out: Record<string, ClassMetrics> = {};
  for (const c of classes) {
    let tp = 0, fp = 0, fn = 0, tn = 0;
    const isArr = Array.isArray(c);
    for (let i = 0; i < ref.length; i++) {
      const r = ref[i]!;
      if (ignoreLabel !== undefined && r === ignoreLabel) continue;
      const p = pred[i]!;
      const pi = isArr ? inClass(p, c) : p === c;
      const ri = isArr ? inClass(r, c) : r === c;
      if (pi && ri) tp++;
      else if (pi) fp++;
      else if (ri) fn++;
      else tn++;
    }
    const den = tp + fp + fn;
    out[classKey(c)] = {
      Dice: den === 0 ? NaN : (2 * tp) / (2 * tp + fp + fn),
      IoU: den === 0 ? NaN : tp / den,
      FP: fp,
      TP: tp,
      FN: fn,
      TN: tn,
      n_pred: tp + fp,
      n_ref: tp + fn,
    };
  }
  return out;
}

/** Mean ignoring NaN; NaN when every value is NaN (numpy nanmean). */
export function nanmean(values: number[]): number {
  let s = 0, n = 0;
  for (const v of values) if (!Number.isNaN(v)) { s += v; n++; }
  return n ? s / n : NaN;
}
