import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import parseDuration from 'parse-duration';
import {
  NnunetError, PRESETS, PluginError, UsageError, checkRunConfig, parseJsonFile, resolveRunOptions, type Budget, type Registry, type Reporter, type RunOptions, type RunOptionsLayer,
} from '@nnunet-ts/core';
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
  planner?: string;
  gpuMemoryGb?: string;
  /** `predict --step-size`. */
  stepSize?: string;
  /** `predict --disable-tta`. */
  disableTta?: boolean;
  /** `predict --no-postprocessing` (false only when given). */
  postprocessing?: boolean;
  quiet?: boolean;
}

/**
 * `--allow-empty-labels` (verbs that validate a dataset): go on when every training label file holds only
 * background, which is otherwise an error before any work (core `validateDataset`).
 */
export function allowEmptyLabelsFlag(cmd: Command): Command {
  return cmd.option('--allow-empty-labels', 'go on when every training label file holds only background (0); default: an error before any work');
}

/** Everything a verb needs: the registry (defaults + plugins), the reporter, the resolved options. */
export interface Context {
  registry: Registry;
  rep: Reporter;
  /** The budget part of `options`. */
  budget: Budget;
  backend: string;
  /** Every option, resolved flag > config file > preset > default (`resolveRunOptions`). */
  options: RunOptions;
  /**
   * Where the configurations came from when no `-c` was given: `the preset 'tiny'` or `the config file <path>`
   * (undefined: `-c`, or nnU-Net's default `all`); error hints name it.
   */
  configurationsFrom?: string;
}

const list = (s: string | undefined): string[] | undefined => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter(Boolean));

function intOpt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

/**
 * Parse `--time-budget 30m` / `1h30m` / `90s` / `2h` (parse-duration units) into seconds. Every number needs its
 * unit: a bare `5` (or a trailing `1h30`) is refused rather than guessed as minutes or milliseconds.
 * @throws NnunetError for a number without a unit, an unreadable or a non-positive duration
 */
export function parseTimeBudget(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (/\d\s*$/.test(v)) throw new UsageError(`--time-budget ${v.trim()}: give a unit, e.g. 5m, 1h30m, 90s`);
  const ms = parseDuration(v);
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms <= 0) {
    throw new UsageError(`--time-budget must be a duration like 30m, 1h30m or 90s, got '${v}'`);
  }
  return ms / 1000;
}

/**
 * The argument parser of an option whose value is one of a fixed set (`choices`: value -> what it means, in the
 * order they are listed). A value outside the set is a `UsageError` (exit 2) of one line naming the option, the bad
 * value and the allowed values; commander's own `InvalidArgumentError` would print the verb's whole help after it.
 * @param flag the option as typed, e.g. `--export-order-z`
 * @param convert turns an allowed value into the option's value (e.g. `Number`)
 * @throws UsageError for a value outside `choices`
 */
export function choiceParser<T>(flag: string, choices: Record<string, string>, convert: (v: string) => T): (v: string) => T {
  return (v: string) => {
    if (!Object.hasOwn(choices, v)) {
      const allowed = Object.entries(choices).map(([k, what]) => `${k} (${what})`).join(', ');
      throw new UsageError(`${flag} ${JSON.stringify(v)} is not an allowed value; allowed: ${allowed}`);
    }
    return convert(v);
  };
}

/** Parse `--folds 0,1` / `all`. */
export function parseFolds(v: string | undefined): number[] | 'all' | undefined {
  if (v === undefined) return undefined;
  if (v === 'all') return 'all';
  const f = list(v)!.map(Number);
  if (f.some((x) => !Number.isInteger(x) || x < 0)) throw new UsageError(`--folds must be 'all' or a list like 0,1,2, got '${v}'`);
  return f;
}

/**
 * Parse `evaluate --labels 1,2`: non-negative integer label values (nnU-Net's `-l`).
 * @throws NnunetError naming the bad entries (e.g. `abc`), instead of evaluating label NaN
 */
export function parseLabels(v: string): number[] {
  const items = list(v)!;
  const bad = items.filter((x) => !/^\d+$/.test(x));
  if (!items.length || bad.length) {
    throw new UsageError(`--labels must be integer label values separated by commas, like 1,2, got '${v}'${bad.length ? ` ('${bad.join("', '")}' ${bad.length > 1 ? 'are' : 'is'} not a label value)` : ''}`, {
      hint: 'pass the foreground label values of the segmentations, or --dataset-json with their dataset.json',
    });
  }
  return items.map(Number);
}

function numOpt(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0)) throw new UsageError(`--${name} must be a positive number, got '${v}'`);
  return n;
}

/** `--step-size`: a fraction of the patch in (0, 1]. */
function stepOpt(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!(n > 0 && n <= 1)) throw new UsageError(`--step-size must be a fraction of the patch in (0, 1], got '${v}'`, { hint: "nnU-Net's default is 0.5" });
  return n;
}

/** The options given as flags (undefined where a flag is absent, so the config file, preset or default apply). */
export function flagLayer(o: CommonOptions): RunOptionsLayer {
  return {
    preset: o.preset,
    backend: o.backend,
    plugins: o.plugin,
    planner: o.planner,
    gpuMemoryGb: numOpt('gpu-memory-gb', o.gpuMemoryGb),
    configurations: list(o.configurations),
    folds: parseFolds(o.folds),
    epochs: intOpt('epochs', o.epochs),
    iterationsPerEpoch: intOpt('iterations-per-epoch', o.iterationsPerEpoch),
    timeBudgetSeconds: parseTimeBudget(o.timeBudget),
    stepSize: stepOpt(o.stepSize),
    mirror: o.disableTta ? false : undefined,
    postprocessing: o.postprocessing === false ? false : undefined,
  };
}

/**
 * Build the context of a verb: options resolved flag > `--config` > `--preset` (or the config's preset) > nnU-Net's
 * defaults (core `resolveRunOptions`), the registry with defaults and the plugins of the config and `--plugin`,
 * the backend name checked.
 * @throws NnunetError for a bad flag, an unreadable or invalid config, or a plugin that cannot load.
 */
export async function makeContext(o: CommonOptions): Promise<Context> {
  let config: RunOptionsLayer = {};
  if (o.config) {
    if (!existsSync(o.config)) throw new NnunetError('config file not found', { file: o.config, hint: 'pass --config <file.json> with budget keys' });
    config = checkRunConfig(parseJsonFile(readFileSync(o.config, 'utf8'), o.config), o.config);
  }
  const options = resolveRunOptions({ config, flags: flagLayer(o) });
  const registry = createDefaultRegistry();
  await loadPlugins(registry, options.plugins);
  // every verb checks the backend name, also those that do not compute (validate, plan, ...)
  if (options.backend !== 'auto' && !registry.has('backend', options.backend)) {
    throw new PluginError(`unknown backend '${options.backend}'`, { hint: `available: auto, ${registry.names('backend').join(', ')}` });
  }
  const { backend, planner: _p, gpuMemoryGb: _g, plugins: _pl, ...budget } = options;
  // explicit epochs under a time budget cap the iterations the budget may choose (flag > config > preset)
  if (budget.timeBudgetSeconds && (o.epochs !== undefined || config.epochs !== undefined || o.iterationsPerEpoch !== undefined)) {
    budget.maxIterations = budget.epochs * budget.iterationsPerEpoch;
  }
  return { registry, rep: terminalReporter({ quiet: o.quiet }), budget, backend, options, configurationsFrom: configurationsOrigin(o, config) };
}

/** `Context.configurationsFrom`: the config file or preset that set the configurations when `-c` was not given. */
function configurationsOrigin(o: CommonOptions, config: RunOptionsLayer): string | undefined {
  if (o.configurations !== undefined) return undefined;
  if (config.configurations !== undefined) return `the config file ${o.config}`;
  const preset = o.preset ?? config.preset;
  return preset && PRESETS[preset]?.configurations ? `the preset '${preset}'` : undefined;
}
