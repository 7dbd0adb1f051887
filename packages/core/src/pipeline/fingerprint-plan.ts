import type { DatasetFingerprint, DatasetJson, Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { readCase } from '../dataset/read.js';
import { readerWriterReorients } from '../image/reorient.js';
import type { Dataset } from '../dataset/types.js';
import { existsSync } from 'node:fs';
import { loadPlans, parsePlans } from '../planning/load-plans.js';
import { readJsonIfValid, writeJson } from './json-io.js';
import type { Reporter } from './progress.js';
import { stage } from './stages.js';
import { checkFingerprintFile } from '../fingerprint/check.js';

/**
 * Fingerprint a dataset (RULES.md §2) and write `outFile` atomically; an existing valid file is reused (resume).
 * Cases are streamed one at a time. An existing file that fails `checkFingerprintFile` is extracted again (said so).
 * dataset.json `overwrite_image_reader_writer` NibabelIOWithReorient: the cases are reoriented to RAS first
 * (`readerWriterReorients`), as nnU-Net's fingerprint extractor reads them with that reader/writer.
 */
export async function runFingerprint(ds: Dataset, registry: Registry, outFile: string, rep: Reporter, opts: { force?: boolean } = {}): Promise<DatasetFingerprint> {
  const existing = opts.force ? undefined : readJsonIfValid<DatasetFingerprint>(outFile);
  if (existing?.spacings?.length === ds.cases.length) {
    try {
      checkFingerprintFile(existing, outFile, Object.keys(ds.json.channel_names ?? {}).length || undefined);
      rep.log(`fingerprint: reusing ${outFile}`);
      return existing;
    } catch (e) {
      rep.log(`note: ${(e as Error).message}: extracting it again`);
    }
  }
  const reorient = readerWriterReorients(ds.json.overwrite_image_reader_writer, `${ds.root}/dataset.json overwrite_image_reader_writer`, (s) => rep.log(s));
  rep.start('fingerprint', ds.cases.length);
  let done = 0;
  async function* cases() {
    for (const c of ds.cases) {
      yield await readCase(registry, c, undefined, { reorient });
      rep.update(++done, c.id);
    }
  }
  const fp = await stage(registry, 'extractFingerprint')(cases());
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

/**
 * Plan every configuration from a fingerprint and dataset.json (RULES.md §4-§11) and write the plans atomically.
 * The planner's output goes through the same checks as a plans file (`parsePlans`), so a plugin planner cannot
 * write plans the pipeline would refuse. @throws DataError naming the planner and each problem.
 */
export function runPlan(fp: DatasetFingerprint, json: DatasetJson, registry: Registry, outFile: string, opts: PlanOptions = {}): Plans {
  const planner = registry.get('planner', opts.planner ?? 'nnUNetPlanner');
  const plans = parsePlans(planner.plan(fp, json, {
    gpuMemoryTargetGb: opts.gpuMemoryGb ?? 8,
    datasetName: opts.datasetName ?? json.name,
  }), `plans of planner '${planner.name}'`);
  writeJson(outFile, plans);
  return plans;
}

/**
 * The run's plans: `outFile` when it exists (loaded and validated by `loadPlans`, so hand edits are checked), else
 * planned with `runPlan`. @throws DataError for an invalid existing plans file (naming the field).
 */
export function planOrReuse(fp: DatasetFingerprint, json: DatasetJson, registry: Registry, outFile: string, rep: Reporter, opts: PlanOptions = {}): Plans {
  if (!existsSync(outFile)) return runPlan(fp, json, registry, outFile, opts);
  rep.log(`plan: reusing ${outFile}`);
  return loadPlans(outFile);
}
