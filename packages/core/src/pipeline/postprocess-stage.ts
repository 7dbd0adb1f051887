import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Registry } from '../registry/registry.js';
import { foregroundClasses, ignoreLabelOf } from '../dataset/dataset-json.js';
import { readImage } from '../dataset/read.js';
import type { Dataset } from '../dataset/types.js';
import type { EvaluationSummary } from '../evaluation/summary.js';
import { determinePostprocessing, type PostprocessingCase, type PostprocessingPlan } from '../postprocessing/determine.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import type { Reporter } from './progress.js';

/** The validation summary files of a model folder's folds (`fold_x/validation/summary.json`). */
export function foldSummaryFiles(modelDir: string, folds: number[]): string[] {
  return folds.map((f) => join(modelDir, `fold_${f}`, 'validation', 'summary.json'));
}

/**
 * Determine postprocessing (RULES.md §19) on cross-validation predictions (the cases listed in `summaryFiles`, e.g.
 * `foldSummaryFiles(modelDir, folds)`) against the training labels, and write `<outDir>/postprocessing.json`
 * (reused when present).
 */
export async function runDeterminePostprocessing(ds: Dataset, outDir: string, summaryFiles: string[], registry: Registry, rep: Reporter): Promise<PostprocessingPlan> {
  const file = join(outDir, 'postprocessing.json');
  const have = readJsonIfValid<PostprocessingPlan>(file);
  if (have?.postprocessing_fns) return have;
  const cases: PostprocessingCase[] = [];
  for (const sf of summaryFiles) {
    const s = readJsonIfValid<EvaluationSummary>(sf);
    for (const pc of s?.metric_per_case ?? []) {
      if (!existsSync(pc.prediction_file)) continue;
      const [p, r] = [await readImage(registry, pc.prediction_file), await readImage(registry, pc.reference_file)];
      cases.push({ pred: Int16Array.from(p.data), ref: Int16Array.from(r.data), shape: p.shape.slice(1) });
    }
  }
  const plan = determinePostprocessing(cases, foregroundClasses(ds.json), registry, { ignoreLabel: ignoreLabelOf(ds.json) });
  rep.log(
    `postprocessing: ${plan.postprocessing_fns.length ? plan.postprocessing_fns.map((s) => `${s.name}(${JSON.stringify(s.kwargs.labels_or_regions)})`).join(', ') : 'none'}` +
      ` (CV foreground Dice ${plan.foreground_dice_before.toFixed(4)} -> ${plan.foreground_dice_after.toFixed(4)}, ${cases.length} cases)`,
  );
  writeJson(file, plan);
  return plan;
}
