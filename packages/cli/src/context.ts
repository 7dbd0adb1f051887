import { existsSync, readFileSync } from 'node:fs';
import { NnunetError, parseJsonFile, resolveBudget, type Budget, type Registry, type Reporter } from '@nnunet-ts/core';
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
    config = parseJsonFile(readFileSync(o.config, 'utf8'), o.config) as ConfigFile;
  }
  const registry = createDefaultRegistry();
  await loadPlugins(registry, [...(config.plugins ?? []), ...(o.plugin ?? [])]);
  const { backend: _b, planner: _p, gpuMemoryGb: _g, plugins: _pl, preset: cfgPreset, ...budgetKeys } = config;
  let budget: Budget;
  try {
    budget = resolveBudget(o.preset ?? cfgPreset, {
      ...budgetKeys,
      configurations: list(o.configurations) ?? budgetKeys.configurations,
      folds: parseFolds(o.folds) ?? budgetKeys.folds,
      epochs: intOpt('epochs', o.epochs) ?? budgetKeys.epochs,
      iterationsPerEpoch: intOpt('iterations-per-epoch', o.iterationsPerEpoch) ?? budgetKeys.iterationsPerEpoch,
    });
  } catch (e) {
    if (e instanceof NnunetError) throw e;
    throw new NnunetError((e as Error).message);
  }
  if (Array.isArray(budget.configurations) && budget.configurations.length === 1 && budget.configurations[0] === 'all') budget.configurations = 'all';
  return { registry, rep: terminalReporter({ quiet: o.quiet }), budget, backend: o.backend ?? config.backend ?? 'auto', config };
}
