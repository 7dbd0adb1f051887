import { existsSync } from 'node:fs';
import type { Plans } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { join } from 'node:path';
import { labelManager, locationClasses, type ClassOrRegion } from '../dataset/label-manager.js';
import { readCase } from '../dataset/read.js';
import { readerWriterReorients } from '../image/reorient.js';
import type { Dataset, DatasetCase } from '../dataset/types.js';
import type { Reporter } from './progress.js';
import { DataError, NnunetError } from '../util/errors.js';
import { getConfiguration } from '../planning/plans-io.js';
import { stage } from './stages.js';

/** The configuration whose preprocessed data a configuration uses (the cascade reuses 3d_fullres data). */
export function dataConfiguration(plans: Plans, configuration: string): string {
  const c = getConfiguration(plans, configuration);
  if (c.previous_stage && configuration.includes('cascade')) return '3d_fullres';
  return configuration;
}

/** Memory limit for preprocessing one case: `NNUNET_MAX_MEMORY_BYTES` when set (bad input B26). */
export function preprocessMemoryLimit(): number | undefined {
  const v = Number(process.env.NNUNET_MAX_MEMORY_BYTES);
  return Number.isFinite(v) && v > 0 ? v : undefined;
}

/** Ids of cached cases that read back intact (checksum verified); corrupt ones are reported and redone (B45). */
async function intactCases(registry: Registry, dir: string, rep: Reporter): Promise<Set<string>> {
  const ok = new Set<string>();
  if (!existsSync(dir)) return ok;
  for (const id of await stage(registry, 'listPreprocessedCases')(dir)) {
    try {
      await stage(registry, 'readPreprocessedCase')(dir, id);
      ok.add(id);
    } catch (e) {
      if (!(e instanceof NnunetError)) throw e;
      rep.log(`preprocess: cached case ${id} is unreadable (${e.message}); preprocessing it again`);
    }
  }
  return ok;
}

/**
 * Preprocess every training case for one configuration into `dir` (crop, normalize, resample; RULES.md §3, §12-§14),
 * with class locations for foreground oversampling. Cases already in `dir` that read back intact are skipped
 * (resume); corrupt ones are redone. A case that fails with a user error (unreadable, over the memory limit of
 * `NNUNET_MAX_MEMORY_BYTES`) does not stop the others.
 * @throws DataError naming every failed case, after the other cases are written.
 */
export async function runPreprocess(ds: Dataset, plans: Plans, configuration: string, registry: Registry, dir: string, rep: Reporter): Promise<void> {
  const done = await intactCases(registry, dir, rep);
  const todo = ds.cases.filter((c) => !done.has(c.id));
  if (!todo.length) {
    rep.log(`preprocess ${configuration}: all ${ds.cases.length} cases present in ${dir}`);
    return;
  }
  const labels = classLocationsOf(ds);
  readerWriterReorients(plans.image_reader_writer, `plans of ${dir}`, (s) => rep.log(s));
  const memoryLimitBytes = preprocessMemoryLimit();
  const failed: string[] = [];
  rep.start(`preprocess ${configuration}`, ds.cases.length);
  let n = done.size;
  for (const c of todo) {
    try {
      await preprocessOneCase(c, plans, configuration, registry, dir, rep, { labels, memoryLimitBytes });
    } catch (e) {
      if (!(e instanceof NnunetError)) throw e;
      failed.push(`${c.id}: ${e.message}${e.hint ? ` (${e.hint})` : ''}`);
    }
    rep.update(++n, c.id);
  }
  rep.stop();
  if (failed.length) {
    throw new DataError(`preprocessing failed for ${failed.length} case(s):\n  ${failed.join('\n  ')}`, {
      hint: 'fix these cases (or raise the memory limit) and run again; the other cases are kept',
    });
  }
}

/** The classes (or regions) whose voxel locations preprocessing samples for foreground oversampling. */
export function classLocationsOf(ds: Dataset): ClassOrRegion[] {
  return locationClasses(labelManager(ds.json, join(ds.root, 'dataset.json')));
}

/**
 * Preprocess one training case for `configuration` into `dir` (`<dir>/<id>.*`, atomic), with the locations of
 * `labels` (`classLocationsOf(ds)`) for foreground oversampling.
 * @throws NnunetError (DataError) when the case cannot be read or preprocessed
 */
export async function preprocessOneCase(
  c: DatasetCase,
  plans: Plans,
  configuration: string,
  registry: Registry,
  dir: string,
  rep: Reporter,
  o: { labels: ClassOrRegion[]; memoryLimitBytes?: number },
): Promise<void> {
  const cs = await readCase(registry, c, undefined, { reorient: readerWriterReorients(plans.image_reader_writer, 'plans') });
  const res = await stage(registry, 'preprocessCase')(
    { image: cs.image.data as Float32Array, shape: [...cs.image.shape], spacing: [...cs.image.spacing], seg: cs.seg.data as Int16Array },
    plans,
    configuration,
    registry,
    { sampleClassLocations: true, labels: o.labels, caseId: c.id, consumeInput: true, memoryLimitBytes: o.memoryLimitBytes, onWarning: (w) => rep.log(`warning: ${w}`) },
  );
  await stage(registry, 'writePreprocessedCase')(dir, c.id, res);
}

/** True when case `id` is in the preprocessing cache `dir` and reads back intact (checksum verified). */
export async function preprocessedCaseIntact(registry: Registry, dir: string, id: string): Promise<boolean> {
  try {
    await stage(registry, 'readPreprocessedCase')(dir, id);
    return true;
  } catch (e) {
    if (e instanceof NnunetError || (e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
