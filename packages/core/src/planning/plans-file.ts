/** Plans and planner inputs on disk (Node): reading fingerprint / dataset.json files, writing plans atomically. */
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../util/atomic.js';
import type { DatasetFingerprint, Plans } from '../contracts/plans.js';
import type { Planner, PlannerOptions } from '../contracts/planner.js';
import type { Registry } from '../registry/registry.js';
import { DataError, NnunetError } from '../util/errors.js';
import { nnUNetPlanner } from './planner-v2.js';
import { toV2DatasetJson } from './plans-io.js';

async function readJson(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw new DataError(`cannot read ${what}`, { file: path, cause: e, hint: 'check the path' });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new DataError(`${what} is not valid JSON (${(e as Error).message})`, { file: path, cause: e });
  }
}

/** Write plans JSON atomically (temporary file + rename), indented by 4 like nnU-Net; creates the folder. */
export async function writePlansFile(path: string, plans: Plans): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(plans, null, 4) + '\n');
}

/**
 * Plan from files: read an nnU-Net `dataset_fingerprint.json` and a v2 or MSD v1 `dataset.json`, run a planner.
 * @param opts.planner a `Planner`, or a registered planner name (needs `opts.registry`); default `nnUNetPlanner`.
 * @param opts.outputPath when given, the plans are also written there (atomically).
 * @throws DataError for unreadable / malformed inputs; PluginError for an unknown planner name.
 */
export async function planFromFiles(
  fingerprintPath: string,
  datasetJsonPath: string,
  opts: PlannerOptions & { planner?: Planner | string; registry?: Registry; outputPath?: string } = {},
): Promise<Plans> {
  const fp = (await readJson(fingerprintPath, 'dataset fingerprint')) as DatasetFingerprint;
  if (!fp || !Array.isArray(fp.spacings) || !Array.isArray(fp.shapes_after_crop)) {
    throw new DataError('not a dataset fingerprint (needs spacings and shapes_after_crop lists)', {
      file: fingerprintPath,
      hint: 'run fingerprint extraction first',
    });
  }
  const ds = toV2DatasetJson((await readJson(datasetJsonPath, 'dataset.json')) as Record<string, unknown>, datasetJsonPath);
  let planner: Planner = nnUNetPlanner;
  if (typeof opts.planner === 'string') {
    if (!opts.registry) throw new NnunetError(`planner '${opts.planner}' given by name but no registry passed`);
    planner = opts.registry.get('planner', opts.planner);
  } else if (opts.planner) {
    planner = opts.planner;
  }
  const { planner: _p, registry: _r, outputPath, ...plannerOpts } = opts;
  const plans = planner.plan(fp, ds, plannerOpts);
  if (outputPath) await writePlansFile(outputPath, plans);
  return plans;
}
