/**
 * Options of a run (every verb, the API, `--config` files) and the one order they resolve in:
 * explicit flag / API value > config file > preset > nnU-Net's default. The JSON schema below validates config
 * files; trainer settings nest under `"trainer"` and resolve field by field in the same order.
 */
import { Ajv, type ErrorObject } from 'ajv';
import { TRAINER_SETTINGS_SCHEMA, resolveTrainerSettings, type TrainerSettings } from '../training/trainer-settings.js';
import { NnunetError, UsageError } from '../util/errors.js';
import { DEFAULT_BUDGET, PRESETS, resolveBudget, type Budget } from './presets.js';

/** Everything a run is configured by: the budget plus backend, planner, GPU memory target and plugins. */
export interface RunOptions extends Budget {
  /** Compute backend name or `auto` (default `auto`). */
  backend: string;
  /** Planner plugin (default `nnUNetPlanner`). */
  planner: string;
  /** GPU memory target of the planner, GB (nnU-Net default 8). */
  gpuMemoryGb: number;
  /** Plugin modules to load (config file's and flags' together). */
  plugins: string[];
}

/** One layer of options (flags, a config file): any subset, trainer settings partial, plus a preset name. */
export type RunOptionsLayer = Partial<Omit<RunOptions, 'trainer'>> & { preset?: string; trainer?: Partial<TrainerSettings> };

/** nnU-Net's defaults for the non-budget options. */
export const DEFAULT_RUN_OPTIONS: Omit<RunOptions, keyof Budget> = { backend: 'auto', planner: 'nnUNetPlanner', gpuMemoryGb: 8, plugins: [] };

const posInt = { type: 'integer', minimum: 1 };
/** JSON schema of a `--config` file (unknown keys and wrong types are rejected). */
export const RUN_CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    preset: { type: 'string', enum: Object.keys(PRESETS) },
    configurations: { anyOf: [{ const: 'all' }, { type: 'array', items: { type: 'string' } }] },
    folds: { anyOf: [{ const: 'all' }, { type: 'array', items: { type: 'integer', minimum: 0 } }] },
    nFolds: { type: 'integer', minimum: 2 },
    epochs: posInt,
    iterationsPerEpoch: posInt,
    validationIterations: posInt,
    batchSize: posInt,
    augmentation: { type: 'string' },
    stepSize: { type: 'number', exclusiveMinimum: 0, maximum: 1 },
    mirror: { type: 'boolean' },
    postprocessing: { type: 'boolean' },
    ensemble: { type: 'boolean' },
    timeBudgetSeconds: { type: 'number', exclusiveMinimum: 0 },
    maxIterations: posInt,
    minIterations: posInt,
    estimate: { type: 'boolean' },
    trainer: TRAINER_SETTINGS_SCHEMA,
    backend: { type: 'string' },
    planner: { type: 'string' },
    gpuMemoryGb: { type: 'number', exclusiveMinimum: 0 },
    plugins: { type: 'array', items: { type: 'string' } },
  },
} as const;

let validateConfig: ReturnType<Ajv['compile']> | undefined;

function describeError(e: ErrorObject, value: Record<string, unknown>): string {
  if (e.keyword === 'additionalProperties') {
    const at = e.instancePath ? `'${e.instancePath.slice(1).replace(/\//g, '.')}.` : "'";
    return `unknown key ${at}${(e.params as { additionalProperty: string }).additionalProperty}'`;
  }
  if (e.instancePath === '') return `must be a JSON object ${e.message ?? ''}`.trim();
  const path = e.instancePath.slice(1).split('/');
  const got = path.reduce<unknown>((v, k) => (v as Record<string, unknown> | undefined)?.[k], value);
  const s = (RUN_CONFIG_SCHEMA.properties as Record<string, { anyOf?: unknown }>)[path[0]!];
  if (s?.anyOf && path.length === 1) return `key '${path[0]}' must be 'all' or a list (got ${JSON.stringify(got)})`;
  const allowed = e.keyword === 'enum' ? `: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}` : '';
  return `key '${path.join('.')}' ${e.message}${allowed} (got ${JSON.stringify(got)})`;
}

/**
 * Check a parsed `--config` file against {@link RUN_CONFIG_SCHEMA}.
 * @throws NnunetError naming the file, each bad key and the valid keys
 */
export function checkRunConfig(value: unknown, file: string): RunOptionsLayer {
  validateConfig ??= new Ajv({ allErrors: true }).compile(RUN_CONFIG_SCHEMA);
  if (validateConfig(value)) return value as RunOptionsLayer;
  const lines: string[] = [];
  const seen = new Set<string>();
  for (const e of validateConfig.errors ?? []) {
    const key = e.instancePath.slice(1).split('/')[0] ?? '';
    if (key && e.keyword !== 'additionalProperties' && seen.has(key)) continue;
    if (key) seen.add(key);
    const line = describeError(e, value as Record<string, unknown>);
    if (!lines.includes(line)) lines.push(line);
  }
  throw new NnunetError(`invalid config: ${lines.join('; ')}`, { file, hint: `valid keys: ${Object.keys(RUN_CONFIG_SCHEMA.properties).join(', ')}` });
}

const defined = <T extends object>(o: T): Partial<T> => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;

/**
 * Resolve a run's options: nnU-Net's defaults < the preset (`flags.preset`, else the config file's) < the config
 * file < explicit flags / API values, key by key (trainer settings field by field). Plugins of the config file
 * and the flags are both loaded (config first).
 * @throws UsageError for an unknown `flags.preset`, NnunetError for an unknown config preset or an invalid trainer setting.
 */
export function resolveRunOptions(layers: { config?: RunOptionsLayer; flags?: RunOptionsLayer }): RunOptions {
  const config = defined(layers.config ?? {});
  const flags = defined(layers.flags ?? {});
  const presetName = flags.preset ?? config.preset;
  let budget: Budget;
  try {
    budget = resolveBudget(presetName, {});
  } catch (e) {
    // a bad --preset flag is a command-line error (exit 2) of one line (the message lists the presets); a config
    // file's preset is checked by checkRunConfig
    if (flags.preset !== undefined) throw new UsageError((e as Error).message);
    throw new NnunetError((e as Error).message, { hint: `presets: ${Object.keys(PRESETS).join(', ')}` });
  }
  const { preset: _p1, trainer: cfgTrainer, plugins: cfgPlugins, ...cfgRest } = config;
  const { preset: _p2, trainer: flagTrainer, plugins: flagPlugins, ...flagRest } = flags;
  const preset = presetName ? PRESETS[presetName] : undefined;
  const out: RunOptions = { ...DEFAULT_RUN_OPTIONS, ...budget, ...cfgRest, ...flagRest, plugins: [...(cfgPlugins ?? []), ...(flagPlugins ?? [])] };
  out.trainer = resolveTrainerSettings(DEFAULT_BUDGET.trainer, preset?.trainer, cfgTrainer, flagTrainer);
  if (Array.isArray(out.configurations) && out.configurations.length === 1 && out.configurations[0] === 'all') out.configurations = 'all';
  return out;
}
