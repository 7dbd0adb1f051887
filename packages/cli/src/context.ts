import { existsSync, readFileSync } from 'node:fs';
import { Ajv, type ErrorObject } from 'ajv';
import parseDuration from 'parse-duration';
import { NnunetError, PluginError, parseJsonFile, resolveBudget, type Budget, type Registry, type Reporter } from '@nnunet-ts/core';
import { createDefaultRegistry, loadPlugins } from './registry-setup.js';
import { terminalReporter } from './reporter.js';

/** Options shared by the verbs that run stages. */
export interface CommonOptions {
  plugin?: string[];
  backend?: string;
  config?: string;
  preset?: string;
  configurations?: string;
  folds?: string;
  epochs?: string;
  iterationsPerEpoch?: string;
  timeBudget?: string;
  quiet?: boolean;
}

/** Keys allowed in a `--config` file besides the budget's. */
interface ConfigFile extends Partial<Budget> {
  backend?: string;
  planner?: string;
  gpuMemoryGb?: number;
  plugins?: string[];
  preset?: string;
}

const posInt = { type: 'integer', minimum: 1 };
/** JSON schema of a `--config` file (unknown keys and wrong types are rejected). */
export const CONFIG_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    preset: { type: 'string' },
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
    backend: { type: 'string' },
    planner: { type: 'string' },
    gpuMemoryGb: { type: 'number', exclusiveMinimum: 0 },
    plugins: { type: 'array', items: { type: 'string' } },
  },
} as const;

const validateConfigSchema = new Ajv({ allErrors: true }).compile(CONFIG_SCHEMA);

/**
 * Check a parsed `--config` file against {@link CONFIG_SCHEMA}.
 * @throws NnunetError naming the file, each bad key and the valid keys
 */
export function checkConfig(value: unknown, file: string): ConfigFile {
  if (validateConfigSchema(value)) return value as ConfigFile;
  const valid = Object.keys(CONFIG_SCHEMA.properties).join(', ');
  const errs: ErrorObject[] = validateConfigSchema.errors ?? [];
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const e of errs) {
    let line: string;
    if (e.keyword === 'additionalProperties') line = `unknown key '${(e.params as { additionalProperty: string }).additionalProperty}'`;
    else if (e.instancePath === '') line = `must be a JSON object ${e.message ?? ''}`.trim();
    else {
      const key = e.instancePath.slice(1).split('/')[0]!;
      if (seen.has(key)) continue;
      seen.add(key);
      const s = (CONFIG_SCHEMA.properties as Record<string, { anyOf?: unknown }>)[key];
      line = s?.anyOf ? `key '${key}' must be 'all' or a list (got ${JSON.stringify((value as Record<string, unknown>)[key])})` : `key '${key}' ${e.message} (got ${JSON.stringify((value as Record<string, unknown>)[key])})`;
    }
    if (!lines.includes(line)) lines.push(line);
  }
  throw new NnunetError(`invalid config: ${lines.join('; ')}`, { file, hint: `valid keys: ${valid}` });
}

/** Everything a verb needs: the registry (defaults + plugins), the reporter, the budget. */
export interface Context {
  registry: Registry;
  rep: Reporter;
  budget: Budget;
  backend: string;
  config: ConfigFile;
}

const list = (s: string | undefined): string[] | undefined => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));

function intOpt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new NnunetError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

/**
 * Parse `--time-budget 30m` / `1h30m` / `90s` / `2h` (parse-duration units; a bare number is minutes) into seconds.
 * @throws NnunetError for an unreadable or non-positive duration
 */
export function parseTimeBudget(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const ms = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) * 60_000 : parseDuration(v);
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new NnunetError(`--time-budget must be a duration like 30m, 1h30m or 90s, got '${v}'`);
  }
  return ms / 1000;
}

/** Parse `--folds 0,1` / `all`. */
export function parseFolds(v: string | undefined): number[] | 'all' | undefined {
  if (v === undefined) return undefined;
  if (v === 'all') return 'all';
  const f = list(v)!.map(Number);
  if (f.some((x) => !Number.isInteger(x) || x < 0)) throw new NnunetError(`--folds must be 'all' or a list like 0,1,2, got '${v}'`);
  return f;
}

/**
 * Build the context of a verb: registry with defaults and `--plugin` modules (also `plugins` from `--config`),
 * the budget (nnU-Net defaults < `--preset` < `--config` < explicit flags), the backend name.
 * @throws NnunetError for a bad flag, an unreadable config or plugin.
 */
export async function makeContext(o: CommonOptions): Promise<Context> {
  let config: ConfigFile = {};
  if (o.config) {
    if (!existsSync(o.config)) throw new NnunetError('config file not found', { file: o.config, hint: 'pass --config <file.json> with budget keys' });
    config = checkConfig(parseJsonFile(readFileSync(o.config, 'utf8'), o.config), o.config);
  }
  const registry = createDefaultRegistry();
  await loadPlugins(registry, [...(config.plugins ?? []), ...(o.plugin ?? [])]);
  // every verb checks the backend name, also those that do not compute (validate, plan, ...)
  const backendName = o.backend ?? config.backend ?? 'auto';
  if (backendName !== 'auto' && !registry.has('backend', backendName)) {
    throw new PluginError(`unknown backend '${backendName}'`, { hint: `available: auto, ${registry.names('backend').join(', ')}` });
  }
  const { backend: _b, planner: _p, gpuMemoryGb: _g, plugins: _pl, preset: cfgPreset, ...budgetKeys } = config;
  let budget: Budget;
  try {
    budget = resolveBudget(o.preset ?? cfgPreset, {
      ...budgetKeys,
      configurations: list(o.configurations) ?? budgetKeys.configurations,
      folds: parseFolds(o.folds) ?? budgetKeys.folds,
      epochs: intOpt('epochs', o.epochs) ?? budgetKeys.epochs,
      iterationsPerEpoch: intOpt('iterations-per-epoch', o.iterationsPerEpoch) ?? budgetKeys.iterationsPerEpoch,
      timeBudgetSeconds: parseTimeBudget(o.timeBudget) ?? budgetKeys.timeBudgetSeconds,
    });
    // explicit epochs under a time budget cap the iterations the budget may choose (flag > config > preset)
    if (budget.timeBudgetSeconds && (o.epochs !== undefined || budgetKeys.epochs !== undefined || o.iterationsPerEpoch !== undefined)) {
      budget.maxIterations = budget.epochs * budget.iterationsPerEpoch;
    }
  } catch (e) {
    if (e instanceof NnunetError) throw e;
    throw new NnunetError((e as Error).message);
  }
  if (Array.isArray(budget.configurations) && budget.configurations.length === 1 && budget.configurations[0] === 'all') budget.configurations = 'all';
  return { registry, rep: terminalReporter({ quiet: o.quiet }), budget, backend: backendName, config };
}
