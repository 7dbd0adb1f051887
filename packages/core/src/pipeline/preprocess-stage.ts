import { existsSync } from 'node:fs';
import type { Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { declaredLabelValues } from '../dataset/dataset-json.js';
import { readCase } from '../dataset/read.js';
import type { Dataset } from '../dataset/types.js';
import type { Reporter } from './progress.js';
import { stage } from './stages.js';

/** The configuration whose preprocessed data a configuration uses (the cascade reuses 3d_fullres data). */
export function dataConfiguration(plans: Plans, configuration: string): string {
  const c = stage('getConfiguration')(plans, configuration);
  if (c.previous_stage && configuration.includes('cascade')) return '3d_fullres';
  return configuration;
}

/**
 * Preprocess every training case for one configuration into `dir` (crop, normalize, resample; spec 1.3, 1.12-1.14),
 * with class locations for foreground oversampling. Cases already in `dir` are skipped (resume).
 */
export async function runPreprocess(ds: Dataset, plans: Plans, configuration: string, registry: Registry, dir: string, rep: Reporter): Promise<void> {
  const done = new Set(existsSync(dir) ? await stage('listPreprocessedCases')(dir) : []);
  const todo = ds.cases.filter((c) => !done.has(c.id));
  if (!todo.length) {
    rep.log(`preprocess ${configuration}: all ${ds.cases.length} cases present in ${dir}`);
    return;
  }
  const labels = declaredLabelValues(ds.json);
  rep.start(`preprocess ${configuration}`, ds.cases.length);
  let n = done.size;
  for (const c of todo) {
    const cs = await readCase(registry, c);
    const res = await stage('preprocessCase')(
      { image: cs.image.data as Float32Array, shape: [...cs.image.shape], spacing: [...cs.image.spacing], seg: cs.seg.data as Int16Array },
      plans,
      configuration,
      registry,
      { sampleClassLocations: true, labels },
    );
    await stage('writePreprocessedCase')(dir, c.id, res);
    rep.update(++n, c.id);
  }
  rep.stop();
}
