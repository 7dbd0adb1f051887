import type { DatasetFingerprint, DatasetJson, Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { readCase } from '../dataset/read.js';
import type { Dataset } from '../dataset/types.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import type { Reporter } from './progress.js';
import { stage } from './stages.js';

/**
 * Fingerprint a dataset (spec 1.2) and write `outFile` atomically; an existing valid file is reused (resume).
 * Cases are streamed one at a time.
 */
export async function runFingerprint(ds: Dataset, registry: Registry, outFile: string, rep: Reporter, opts: { force?: boolean } = {}): Promise<DatasetFingerprint> {
  const existing = opts.force ? undefined : readJsonIfValid<DatasetFingerprint>(outFile);
  if (existing?.spacings?.length === ds.cases.length) {
    rep.log(`fingerprint: reusing ${outFile}`);
    return existing;
  }
  rep.start('fingerprint', ds.cases.length);
  let done = 0;
  async function* cases() {
    for (const c of ds.cases) {
      yield await readCase(registry, c);
      rep.update(++done, c.id);
    }
  }
  const fp = await stage('extractFingerprint')(cases());
  rep.stop();
  writeJson(outFile, fp);
  return fp;
}

/** Options of the plan stage (`nnunet-ts plan`). */
export interface PlanOptions {
  /** Planner plugin name (default `nnUNetPlanner`). */
  planner?: string;
  /** GPU memory target, GB (default 8). */
  gpuMemoryGb?: number;
  datasetName?: string;
}

/** Plan every configuration from a fingerprint and dataset.json (spec 1.4-1.11) and write the plans atomically. */
export function runPlan(fp: DatasetFingerprint, json: DatasetJson, registry: Registry, outFile: string, opts: PlanOptions = {}): Plans {
  const planner = registry.get('planner', opts.planner ?? 'nnUNetPlanner');
  const plans = planner.plan(fp, json, {
    gpuMemoryTargetGb: opts.gpuMemoryGb ?? 8,
    datasetName: opts.datasetName ?? json.name,
  });
  writeJson(outFile, plans);
  return plans;
}
