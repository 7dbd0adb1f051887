import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { JobGraph, JobSpec, RunSpec } from '../../contracts/jobs.js';
import type { Plans } from '../../contracts/plans.js';
import type { Dataset } from '../../dataset/types.js';
import { dataConfiguration } from '../preprocess-stage.js';
import { getConfiguration } from '../../planning/plans-io.js';

/**
 * A job-id-safe form of a name: `[A-Za-z0-9_-]` kept, anything else (dots included) replaced by `_`, with a short
 * hash of the original appended when something was replaced (so distinct names stay distinct).
 */
export function jobIdPart(name: string): string {
  const safe = name.replace(/[^A-Za-z0-9_-]/g, '_');
  return safe === name ? name : `${safe}_${createHash('sha1').update(name).digest('hex').slice(0, 6)}`;
}

/**
 * Deterministic key of a run: a hash of the run folder, the dataset, the budget, configurations and folds (and of
 * the graph's kind when it is not the decathlon's).
 */
export function runKeyOf(run: RunSpec, graph: 'decathlon' | 'training' = 'decathlon'): string {
  const { out, dataset, budget, configurations, folds } = run;
  const key = { out, dataset, budget, configurations, folds, ...(graph === 'decathlon' ? {} : { graph }) };
  return createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 16);
}

/**
 * Training depth of each configuration: 0 without a previous stage among `configurations`, else one more than its
 * previous stage (the cascade trains after every fold of `3d_lowres` is validated, RULES.md §10).
 */
function trainingDepths(plans: Plans, configurations: string[]): Map<string, number> {
  const depth = new Map<string, number>();
  const of = (c: string, guard = 0): number => {
    if (depth.has(c)) return depth.get(c)!;
    const prev = getConfiguration(plans, c).previous_stage;
    const d = prev && configurations.includes(prev) && guard < configurations.length ? of(prev, guard + 1) + 1 : 0;
    depth.set(c, d);
    return d;
  };
  for (const c of configurations) of(c);
  return depth;
}

/**
 * The training part of the decathlon (what `nnunet-ts train` runs): preprocessing by (data configuration, training
 * case), then per training depth training by (configuration, fold) and validation by (configuration, fold). Same job
 * ids as `decathlonJobGraph`; its `runKey` differs from the decathlon's of the same run.
 */
export function trainingJobGraph(run: RunSpec, ds: Dataset, plans: Plans): JobGraph {
  return { runKey: runKeyOf(run, 'training'), run, waves: trainingWaves(run, ds, plans) };
}

function trainingWaves(run: RunSpec, ds: Dataset, plans: Plans): JobSpec[][] {
  const waves: JobSpec[][] = [];
  const dataConfigs = [...new Set(run.configurations.map((c) => dataConfiguration(plans, c)))];
  waves.push(dataConfigs.flatMap((dc) => ds.cases.map((c): JobSpec => ({ id: `pp.${jobIdPart(dc)}.${jobIdPart(c.id)}`, kind: 'preprocess', configuration: dc, caseId: c.id }))));
  const depths = trainingDepths(plans, run.configurations);
  const maxDepth = Math.max(...depths.values());
  for (let d = 0; d <= maxDepth; d++) {
    const configs = run.configurations.filter((c) => depths.get(c) === d);
    const pairs = configs.flatMap((c) => run.folds.map((f) => [c, f] as const));
    waves.push(pairs.map(([c, f]): JobSpec => ({ id: `train.${jobIdPart(c)}.${f}`, kind: 'train', configuration: c, fold: f })));
    waves.push(pairs.map(([c, f]): JobSpec => ({ id: `val.${jobIdPart(c)}.${f}`, kind: 'validate', configuration: c, fold: f })));
  }
  return waves;
}

/**
 * The decathlon as waves of jobs (`JobGraph`): preprocessing by (data configuration, training case); per training
 * depth, training by (configuration, fold) then validation by (configuration, fold); find-best with
 * postprocessing once all folds are in; prediction by test case; evaluation when every test case has a label.
 * Job ids: `pp.<configuration>.<case>`, `train.<configuration>.<fold>`, `val.<configuration>.<fold>`, `find-best`,
 * `predict.<case>`, `evaluate`.
 */
export function decathlonJobGraph(run: RunSpec, ds: Dataset, plans: Plans): JobGraph {
  const waves = trainingWaves(run, ds, plans);
  waves.push([{ id: 'find-best', kind: 'find-best' }]);
  if (ds.testCases.length) {
    waves.push(ds.testCases.map((c): JobSpec => ({ id: `predict.${jobIdPart(c.id)}`, kind: 'predict', caseId: c.id })));
    if (ds.testCases.every((c) => c.label) && existsSync(join(ds.root, 'labelsTs'))) waves.push([{ id: 'evaluate', kind: 'evaluate' }]);
  }
  return { runKey: runKeyOf(run), run, waves };
}

/** Every job of a graph, wave after wave. */
export function graphJobs(g: JobGraph): JobSpec[] {
  return g.waves.flat();
}
