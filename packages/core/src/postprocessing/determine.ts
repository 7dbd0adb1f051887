import type { Registry } from '../registry/registry.js';
import { classKey, computeMetrics, nanmean } from '../evaluation/metrics.js';
import { KEEP_LARGEST } from './plugins.js';

/** One postprocessing step as stored in postprocessing.json. */
export interface PostprocessingStep {
  name: string;
  kwargs: Record<string, unknown>;
}

/** postprocessing.json (nnU-Net stores postprocessing.pkl; same content as JSON). */
export interface PostprocessingPlan {
  postprocessing_fns: PostprocessingStep[];
  /** Mean Dice per class and foreground mean before and after, on the cases used to decide. */
  dice_before: Record<string, number>;
  dice_after: Record<string, number>;
  foreground_dice_before: number;
  foreground_dice_after: number;
}

/** A validation case held in memory: prediction and reference label maps `[z, y, x]`. */
export interface PostprocessingCase {
  pred: Int16Array;
  ref: Int16Array;
  shape: number[];
}

/** Apply the steps of a plan in order through the registry's postprocessor plugins. */
export function applyPostprocessing(seg: Int16Array, shape: number[], steps: PostprocessingStep[], registry: Registry): Int16Array {
  let s = seg;
  for (const st of steps) s = registry.get('postprocessor', st.name).apply(s, shape, st.kwargs);
  return s;
}

function meanDice(preds: Int16Array[], cases: PostprocessingCase[], classes: (number | number[])[], ignore?: number): Record<string, number> {
  const per = cases.map((c, i) => computeMetrics(preds[i]!, c.ref, classes, ignore));
  const out: Record<string, number> = {};
  for (const cl of classes) out[classKey(cl)] = nanmean(per.map((m) => m[classKey(cl)]!.Dice));
  return out;
}

/**
 * Decide postprocessing on cross-validation predictions (RULES.md §19):
 * 1. keep the largest component of the union of all foreground; accept if the foreground mean Dice improves and
 *    no class gets worse;
 * 2. then per class in dataset.json order, on top of the accepted state: keep that class's largest component;
 *    accept if that class's Dice strictly improves.
 * Returns the plan (write it as postprocessing.json). `classes`: foreground labels/regions.
 */
export function determinePostprocessing(
  cases: PostprocessingCase[],
  classes: (number | number[])[],
  registry: Registry,
  opts: { ignoreLabel?: number } = {},
): PostprocessingPlan {
  const fg = (d: Record<string, number>): number => nanmean(Object.values(d));
  let preds = cases.map((c) => c.pred);
  const before = meanDice(preds, cases, classes, opts.ignoreLabel);
  let current = before;
  const steps: PostprocessingStep[] = [];
  const tryStep = (step: PostprocessingStep) => {
    const pp = preds.map((p, i) => applyPostprocessing(p, cases[i]!.shape, [step], registry));
    return { pp, dice: meanDice(pp, cases, classes, opts.ignoreLabel) };
  };
  if (classes.length > 0) {
    const all = { name: KEEP_LARGEST, kwargs: { labels_or_regions: classes } };
    const t = tryStep(all);
    const worse = classes.some((c) => t.dice[classKey(c)]! < current[classKey(c)]!);
    if (fg(t.dice) > fg(current) && !worse) {
      steps.push(all);
      preds = t.pp;
      current = t.dice;
    }
  }
  for (const c of classes) {
    const step = { name: KEEP_LARGEST, kwargs: { labels_or_regions: c } };
    const t = tryStep(step);
    if (t.dice[classKey(c)]! > current[classKey(c)]!) {
      steps.push(step);
      preds = t.pp;
      current = t.dice;
    }
  }
  return {
    postprocessing_fns: steps,
    dice_before: before,
    dice_after: current,
    foreground_dice_before: fg(before),
    foreground_dice_after: fg(current),
  };
}
