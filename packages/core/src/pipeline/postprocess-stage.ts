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

/**
 * Determine postprocessing (spec 1.19) on a configuration's cross-validation predictions
 * (`fold_x/validation/*`) against the training labels, and write `<modelDir>/postprocessing.json`
 * (reused when present).
 */
export async function runDeterminePostprocessing(ds: Dataset, modelDir: string, folds: number[], registry: Registry, rep: Reporter): Promise<PostprocessingPlan> {
  const file = join(modelDir, 'postprocessing.json');
  const have = readJsonIfValid<PostprocessingPlan>(file);
  if (have?.postprocessing_fns) return have;
  const cases: PostprocessingCase[] = [];
  for (const f of folds) {
    const s = readJsonIfValid<EvaluationSummary>(join(modelDir, `fold_${f}`, 'validation', 'summary.json'));
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
