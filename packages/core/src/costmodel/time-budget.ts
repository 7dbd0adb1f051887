/**
 * Planning for the machine at hand under a wall-time budget (`--time-budget 30m`, the `quick` preset).
 *
 * nnU-Net plans for a GPU it assumes (8 GB). Under a time budget the plan is chosen among nnU-Net plans of the same
 * dataset made with nnU-Net's own rules and knobs, preferring the one closest to nnU-Net's default:
 * 1. target spacing: the planner's own, then coarser (`overwrite_target_spacing`, nnU-Net's documented option),
 *    growing the axes more than 2x finer than the coarsest (all axes for isotropic data) as nnU-Net's 3d_lowres
 *    search does;
 * 2. patch and batch: the planner run with a smaller memory target (`gpu_memory_target_in_gb`), so the patch shrinks
 *    by nnU-Net's rule (largest axis relative to the median shape first) and the batch follows its formula (>= 2);
 * 3. mirroring test-time augmentation: kept when it fits, else turned off (said so);
 * 4. iterations: as many as the remaining time allows, at most the preset's cap (`maxIterations`), at least
 *    `minIterations`.
 * Times come from a calibration of the backend (cached per machine), scaled by FLOPs to other patches, and an exact
 * calibration of the chosen candidate; the host work (preprocessing, resampling around prediction) is measured at
 * the chosen plan's own spacing and the choice made again with it, so the plan fits the budget left with the estimates
 * it prints, or is refused before any work. Memory: the modelled peak of training (`RUNTIME_BYTES` + the plan's
 * analytic training memory + the data the trainer holds, `trainingDataBytes`; the same in every run) must fit the
 * memory available (CPU: the machine's available memory; GPU: the adapter's or nnU-Net's 8 GB).
 */
import { freemem } from 'node:os';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { DatasetFingerprint, DatasetJson, Plans, PlansConfiguration } from '../contracts/plans.js';
import type { Registry } from '../registry/registry.js';
import { labelSetup } from '../training/configuration.js';
import { getConfiguration as resolveConfiguration } from '../planning/plans-io.js';
import { DataError } from '../util/errors.js';
import { calibrate, type Calibration } from './calibrate.js';
import { calibrateHost, type HostCalibration } from './host-calibrate.js';
import { RUNTIME_BYTES, costFrom, estimateStages, trainingDataBytes, formatBytes, formatDuration, representativeCase, type CaseGeometry, type ConfigurationCost, type RunShape, type StageEstimate } from './estimate.js';
import { trainingUnits } from './network-cost.js';

/** Inputs of {@link planForTimeBudget}. */
export interface TimeBudgetOptions {
  registry: Registry;
  backend: ComputeBackend | DeviceBackend;
  fingerprint: DatasetFingerprint;
  dataset: DatasetJson;
  /** Planner plugin (default `nnUNetPlanner`). */
  planner?: string;
  budgetSeconds: number;
  /**
   * Seconds of the budget already spent before planning (validation, conversion, fingerprint), s. The calibrations
   * run here are taken off the budget too, so the whole run, not only the stages after planning, fits it.
   */
  elapsedSeconds?: number;
  /** Configurations the user allows, in preference order (default: 3d_fullres, then 2d). */
  configurations?: string[];
  folds: number;
  iterationsPerEpoch: number;
  validationIterations: number;
  /** Cap on training iterations per fold (default nnU-Net's 1000 x 250). */
  maxIterations?: number;
  /** Fewest training iterations per fold worth running (default 50, or the cap when lower). */
  minIterations?: number;
  mirror: boolean;
  stepSize: number;
  augmentation?: string;
  validationCases: number;
  testCases: number;
  /** The test images' shapes and spacings (headers), when known: their tiles are counted (`RunShape.testImages`). */
  testImages?: CaseGeometry[];
  /** The validation cases' shapes after cropping and spacings (`RunShape.validationImages`). */
  validationImages?: CaseGeometry[];
  /** Memory the run may use, bytes (default: the machine's available memory for CPU backends, 8 GiB for GPU ones). */
  memoryBytes?: number;
  /**
   * Host work per case measured on this machine (`calibrateHost`); set by {@link planForTimeBudget} (for nnU-Net's
   * own plan, then for the one chosen), null to use the constant voxel rate.
   */
  host?: HostCalibration | null;
  /**
   * Measurements to use instead of timing this machine (tests, or a caller that measured already): `network` in place
   * of {@link calibrate} and `host` in place of {@link calibrateHost} on the run's representative case, each for one
   * candidate plan (`plans`, `configuration`). Default: both measured (and cached) here.
   */
  measure?: {
    network?: (plans: Plans, configuration: string) => Promise<Calibration>;
    host?: (plans: Plans, configuration: string) => Promise<HostCalibration | null>;
  };
  /** The clock the time spent planning is read from, ms (default `performance.now`; tests fix it). */
  now?: () => number;
  log?: (line: string) => void;
}

/** The decisions, written into the plans (`time_budget`) and the run info. */
export interface TimeBudgetDecision {
  plans: Plans;
  configuration: string;
  epochs: number;
  iterationsPerEpoch: number;
  /**
   * Validation iterations per epoch (pseudo Dice): the budget's, scaled with the iterations per epoch when an epoch is
   * shortened, so they keep nnU-Net's ratio (50 per 250) that the fit assumed; at least 1.
   */
  validationIterations: number;
  mirror: boolean;
  gpuMemoryTargetGb: number;
  /** Factor applied to the planner's fine axes of the target spacing (1 = nnU-Net's spacing). */
  spacingFactor: number;
  patchSize: number[];
  batchSize: number;
  /** The user's budget, s. */
  budgetSeconds: number;
  /** Of it, what was spent before the stages: validation, fingerprint, planning and calibration, s. */
  secondsBeforeStages: number;
  estimates: StageEstimate[];
  calibration: Calibration;
}

const MEMORY_TARGETS_GB = [8, 6, 4, 3, 2, 1.5, 1, 0.75, 0.5, 0.35, 0.25];
const SPACING_FACTORS = [1, 1.5, 2, 3, 4];
/** Share of the budget kept for what the model does not count (startup, checkpoints, evaluation, find-best). */
const MARGIN = 0.08;

interface Candidate {
  plans: Plans;
  configuration: string;
  cfg: PlansConfiguration;
  target: number;
  factor: number;
  units: number;
}

/**
 * Memory available to a run on `backend`, bytes. CPU backends: the machine's available memory (Linux
 * `/proc/meminfo` MemAvailable, else `os.freemem`) plus this process's own. GPU backends: the device memory the backend
 * reports (`info.memoryBytes`, a device backend's `info.capabilities.memoryBytes`), else the first NVIDIA GPU's total
 * memory from `nvidia-smi` when present, else 8 GiB (the GPU nnU-Net's default plans assume).
 */
export function availableMemory(backend: ComputeBackend | DeviceBackend): number {
  const reported = 'capabilities' in backend.info ? backend.info.capabilities.memoryBytes : backend.info.memoryBytes;
  if (backend.info.gpu) return reported ?? nvidiaGpuMemory() ?? 8 * 2 ** 30;
  try {
    const m = /MemAvailable:\s+(\d+) kB/.exec(readFileSync('/proc/meminfo', 'utf8'));
    if (m) return Number(m[1]) * 1024 + process.memoryUsage().rss;
  } catch {
    // not Linux: fall back to os.freemem
  }
  return freemem() + process.memoryUsage().rss;
}

let nvidiaMemory: number | null | undefined;
/** Total memory of the first NVIDIA GPU (`nvidia-smi --query-gpu=memory.total`), bytes; null without one. */
export function nvidiaGpuMemory(): number | null {
  if (nvidiaMemory !== undefined) return nvidiaMemory;
  const r = spawnSync('nvidia-smi', ['--query-gpu=memory.total', '--format=csv,noheader,nounits'], { encoding: 'utf8', timeout: 5000 });
  const mib = r.status === 0 ? Number.parseFloat(r.stdout.split('\n')[0] ?? '') : NaN;
  nvidiaMemory = Number.isFinite(mib) && mib > 0 ? mib * 2 ** 20 : null;
  return nvidiaMemory;
}

/** nnU-Net's 3d_fullres target spacing in the fingerprint's axis order, the fine axes scaled by `factor`. */
function scaledSpacing(plans: Plans, factor: number): number[] | undefined {
  if (factor === 1) return undefined;
  const cfg = plans.configurations['3d_fullres'] ?? plans.configurations['2d'];
  const t = plans.transpose_forward ?? [0, 1, 2];
  const spT = cfg?.spacing?.length === 3 ? cfg.spacing : [...plans.original_median_spacing_after_transp];
  const sp = new Array<number>(3);
  t.forEach((a, i) => (sp[a] = spT[i]!));
  const max = Math.max(...sp);
  const fine = sp.map((v) => max / v > 2);
  return sp.map((v, i) => (fine.some(Boolean) ? (fine[i] ? v * factor : v) : v * factor));
}

/** Every (spacing factor, memory target, configuration) plan, in preference order. */
function candidates(o: TimeBudgetOptions): Candidate[] {
  const planner = o.registry.get('planner', o.planner ?? 'nnUNetPlanner');
  const base = planner.plan(o.fingerprint, o.dataset, { datasetName: o.dataset.name });
  const { numClasses } = labelSetup(o.dataset);
  const channels = Object.keys(o.dataset.channel_names ?? {}).length || 1;
  const allowed = o.configurations?.length ? o.configurations : ['3d_fullres', '2d'];
  const out: Candidate[] = [];
  const seen = new Set<string>();
  for (const factor of SPACING_FACTORS) {
    for (const target of MEMORY_TARGETS_GB) {
      let plans: Plans;
      try {
        plans = planner.plan(o.fingerprint, o.dataset, { gpuMemoryTargetGb: target, overwriteTargetSpacing: scaledSpacing(base, factor), datasetName: o.dataset.name });
      } catch {
        continue; // no patch fits this target
      }
      for (const configuration of allowed) {
        if (!plans.configurations[configuration]) continue;
        const cfg = resolveConfiguration(plans, configuration);
        if (!cfg.architecture || !cfg.patch_size) continue;
        const key = JSON.stringify([configuration, cfg.spacing, cfg.patch_size, cfg.batch_size]);
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ plans, configuration, cfg, target, factor, units: trainingUnits(cfg.architecture, cfg.patch_size, cfg.batch_size ?? 2, channels, numClasses) });
      }
    }
  }
  if (!out.length) throw new DataError('no configuration of the allowed ones could be planned', { hint: `allowed: ${allowed.join(', ')}` });
  return out;
}

/**
 * A time-budget plan's options while planning: `hostAt` gives the host work measured at a candidate's own target
 * spacing (undefined when that spacing was not measured: `host`, the last one measured, stands in).
 */
type Planning = TimeBudgetOptions & { hostAt?: (c: Candidate) => HostCalibration | null | undefined };

function hostAt(o: Planning, c: Candidate): HostCalibration | null | undefined {
  const own = o.hostAt?.(c);
  return own === undefined ? o.host : own;
}

function runShape(o: Planning, c: Candidate, mirror: boolean, iterations: number): RunShape {
  const { numClasses } = labelSetup(o.dataset);
  return {
    plans: c.plans, configuration: c.configuration, fingerprint: o.fingerprint, channels: Object.keys(o.dataset.channel_names ?? {}).length || 1,
    numClasses, folds: o.folds, epochs: Math.max(1, Math.floor(iterations / o.iterationsPerEpoch)), iterationsPerEpoch: o.iterationsPerEpoch,
    validationIterations: o.validationIterations, batchSize: c.cfg.batch_size ?? 2, mirror, stepSize: o.stepSize,
    validationCases: o.validationCases, testCases: o.testCases, testImages: o.testImages, validationImages: o.validationImages, preprocess: true, host: hostAt(o, c),
  };
}

/** Iterations per fold that fit, or a negative number when the fixed costs alone exceed the budget. */
function fit(o: TimeBudgetOptions, c: Candidate, cost: ConfigurationCost, mirror: boolean): { iterations: number; fixed: number; perIteration: number } {
  const shape = runShape(o, c, mirror, o.iterationsPerEpoch);
  const stages = estimateStages(shape, c.cfg, cost, 0);
  const fixed = stages.filter((s) => !s.stage.startsWith('train')).reduce((a, s) => a + s.seconds, 0);
  const perIteration = cost.secondsPerIteration + (o.validationIterations * shape.batchSize * cost.secondsPerTile) / o.iterationsPerEpoch;
  const left = o.budgetSeconds * (1 - MARGIN) - fixed;
  return { iterations: Math.floor(left / (perIteration * o.folds)), fixed, perIteration };
}

/** Modelled peak bytes of training a candidate: the runtime, the network's training memory and the data the trainer holds. */
function trainingPeak(o: TimeBudgetOptions, c: Candidate, cost: ConfigurationCost): number {
  return RUNTIME_BYTES + cost.trainingBytes + trainingDataBytes(runShape(o, c, false, o.iterationsPerEpoch), c.cfg);
}

/** A candidate that fits memory and, without mirroring, would need at most {@link NEAR_MISS} times the budget left. */
function nearlyFits(o: TimeBudgetOptions, c: Candidate, cost: ConfigurationCost, memory: number, minIt: number): boolean {
  if (trainingPeak(o, c, cost) > memory) return false;
  const f = fit(o, c, cost, false);
  return (f.fixed + minIt * f.perIteration * o.folds) / (1 - MARGIN) <= NEAR_MISS * o.budgetSeconds;
}

/** How far over the budget an estimated candidate may be and still be measured before a less preferred one is picked. */
const NEAR_MISS = 4;

interface Pick {
  c: Candidate;
  mirror: boolean;
  iterations: number;
}

/** Calibrations that cost at most this share of the budget are run; dearer ones are estimated from the others. */
const CALIBRATION_SHARE = 0.04;
const MAX_CALIBRATIONS = 6;

/** Rounds of picking again with the host work measured at the picked plan's spacing (each measures one spacing). */
const MAX_HOST_ROUNDS = 3;

/**
 * Choose configuration, spacing, patch, batch, mirroring and iterations that fit `budgetSeconds` on this machine.
 * Calibrates the cheapest candidate and one about 16x dearer (a fixed per-iteration overhead plus a FLOP rate), then
 * the candidate it would pick (always: the estimates before the run measure it anyway), deciding again with each new
 * measurement; a more preferred candidate whose estimate misses the budget by less than {@link NEAR_MISS}x is
 * measured before it is passed over (so nnU-Net's own plan is taken whenever a measurement, not an extrapolation,
 * says it fits).
 * The host work (preprocessing, resampling around prediction) is measured at nnU-Net's own plan's spacing first; when
 * the pick has another spacing, it is measured at the pick's and the pick is made again with those rates, until the
 * pick's spacing is the one measured (at most {@link MAX_HOST_ROUNDS} rounds): the plan returned fits what is left of
 * the budget with the very estimates it prints (`estimates`), the floor of `minIterations` included.
 * @throws DataError (before any training) when even the cheapest candidate cannot fit, with the estimate and the fix.
 */
export async function planForTimeBudget(o: TimeBudgetOptions): Promise<TimeBudgetDecision> {
  const list = candidates(o);
  const { numClasses } = labelSetup(o.dataset);
  const channels = Object.keys(o.dataset.channel_names ?? {}).length || 1;
  const memory = o.memoryBytes ?? availableMemory(o.backend);
  const cap = o.maxIterations ?? 1000 * 250;
  const minIt = Math.min(cap, o.minIterations ?? 50);
  const cals: Calibration[] = [];
  const exact = new Set<Candidate>();
  const now = o.now ?? (() => performance.now());
  const start = now();
  // what is left of the budget for the stages after planning: the user's budget less the time spent so far
  const left = (): TimeBudgetOptions => ({ ...o, budgetSeconds: o.budgetSeconds - (o.elapsedSeconds ?? 0) - (now() - start) / 1000 });
  const costOf = (c: Candidate) => costFrom(cals, c.cfg, c.cfg.batch_size ?? 2, channels, numClasses);
  const cheapToCalibrate = (c: Candidate) => {
    const e = costOf(c);
    return 3 * e.secondsPerIteration + 3 * e.secondsPerTile <= CALIBRATION_SHARE * o.budgetSeconds;
  };
  const measureNetwork = (c: Candidate) => o.measure?.network?.(c.plans, c.configuration) ?? calibrate({ registry: o.registry, backend: o.backend, plans: c.plans, configuration: c.configuration, dataset: o.dataset, augmentation: o.augmentation });
  // candidates calibrated in this process (not read from the cache): their memory is part of this process's peak
  const startedAt = Date.now();
  const measuredHere: Candidate[] = [];
  const cal = async (c: Candidate) => {
    const m = await measureNetwork(c);
    cals.push(m);
    exact.add(c);
    if (Date.parse(m.measuredAt) >= startedAt) measuredHere.push(c);
  };
  const hostFor = (c: Candidate) => (o.measure?.host?.(c.plans, c.configuration) ?? hostOf(o, c)).catch((e: unknown) => {
    o.log?.(`time budget: host work not measured (${(e as Error).message}); a constant voxel rate is used`);
    return null;
  });
  // the host work measured per target spacing, each candidate estimated with the rates of its own spacing once measured
  // (the last measured stand in before); a caller's own `o.host` (null included) is used for every plan
  const spacingOf = (c: Candidate) => JSON.stringify(resolveConfiguration(c.plans, c.configuration).spacing);
  const hosts = new Map<string, HostCalibration | null>();
  const measureHosts = o.host === undefined;
  if (measureHosts) {
    const h = await hostFor(list[0]!);
    hosts.set(spacingOf(list[0]!), h);
    o = { ...o, host: h };
  }
  const planning: Planning = { ...o, hostAt: (c) => hosts.get(spacingOf(c)) };
  o = planning;
  const byUnits = [...list].sort((x, y) => x.units - y.units);
  await cal(byUnits[0]!);
  const second = [...byUnits].reverse().find((c) => c.units <= 16 * byUnits[0]!.units && c.units >= 2 * byUnits[0]!.units && cheapToCalibrate(c) && RUNTIME_BYTES + costOf(c).trainingBytes <= memory);
  if (second) await cal(second);

  /** The first candidate (in preference order) that fits with the host rates in `o`, measured; undefined if none. */
  const choose = async (): Promise<{ best?: Pick; smallest: number }> => {
    for (;;) {
      // the least budget is that of this round's estimates: a later calibration can raise what an earlier round thought
      let smallest = Infinity;
      const spent = o.budgetSeconds - left().budgetSeconds;
      const pick = firstFeasible(left(), list, costOf, memory, minIt, cap, (s) => (smallest = Math.min(smallest, s + spent)));
      // a preferred candidate estimated (not measured) to miss the budget narrowly is measured before it is passed over:
      // an estimate scaled from small patches can be off by 2-5x
      const preferred = pick ? list.slice(0, list.indexOf(pick.c)) : list;
      const near = cals.length < MAX_CALIBRATIONS ? preferred.find((c) => !exact.has(c) && cheapToCalibrate(c) && nearlyFits(left(), c, costOf(c), memory, minIt)) : undefined;
      if (near) {
        await cal(near);
        continue;
      }
      if (!pick) return { smallest };
      // the pick is always measured (the estimates before the run measure it anyway), then decided again
      if (exact.has(pick.c) || cals.length >= MAX_CALIBRATIONS) return { best: pick, smallest };
      await cal(pick.c);
    }
  };

  let best: Pick | undefined;
  let smallest = Infinity;
  for (let round = 0; ; round++) {
    ({ best, smallest } = await choose());
    if (!best || !measureHosts || hosts.has(spacingOf(best.c))) break;
    // the pick's preprocessing and prediction are measured at its own spacing, then the pick is made again with those
    // rates: they can make the pick, or its floor of iterations, miss the budget, or free time for a preferred plan
    const h = (await hostFor(best.c)) ?? o.host ?? null;
    hosts.set(spacingOf(best.c), h);
    o = { ...o, host: h };
    if (round + 1 >= MAX_HOST_ROUNDS) {
      // no more rounds: keep this pick if it still fits with its own rates, else say that it does not
      ({ best, smallest } = refit(left(), best, costOf(best.c), minIt, cap, o.budgetSeconds - left().budgetSeconds));
      break;
    }
  }
  if (!best) throw tooSmall(o, minIt, smallest);
  explainChoice(left(), list[0]!, best, costOf(list[0]!), exact.has(list[0]!));
  calibrationPeak(o, measuredHere, best, costOf, memory);
  return decide(left(), best, costOf(best.c), cals[cals.length - 1]!, memory, o.budgetSeconds);
}

/** `best` with its iterations fitted again (`o`: the budget left), or none and the budget it needs (`spent` s already spent). */
function refit(o: TimeBudgetOptions, best: Pick, cost: ConfigurationCost, minIt: number, cap: number, spent: number): { best?: Pick; smallest: number } {
  const f = fit(o, best.c, cost, best.mirror);
  if (f.fixed <= 0.5 * o.budgetSeconds && f.iterations >= minIt) return { best: { ...best, iterations: Math.min(cap, f.iterations) }, smallest: Infinity };
  return { smallest: spent + Math.max((f.fixed + minIt * f.perIteration * o.folds) / (1 - MARGIN), 2 * f.fixed) };
}

/** The refusal of a budget whose cheapest plan needs `smallest` seconds for `minIt` iterations per fold, with the fix. */
function tooSmall(o: TimeBudgetOptions, minIt: number, smallest: number): DataError {
  return new DataError(
    `the time budget of ${formatDuration(o.budgetSeconds)} is too small for this dataset on this machine: the cheapest plan needs a budget of about ${formatDuration(smallest)} ` +
      `(${minIt} training iterations per fold, ${o.folds} fold(s), preprocessing and ${o.validationCases * o.folds + o.testCases} predictions: ${o.validationCases} validation case(s) per fold and ${o.testCases} test case(s))`,
    { hint: `give a budget of at least ${formatDuration(Math.ceil(smallest))} (--time-budget), train fewer folds (-f 0), or predict fewer test cases` },
  );
}

/**
 * Say when a calibration run in this process (a few training iterations of a candidate on patch-sized synthetic
 * cases; not one read from the cache) needs more memory than training the plan chosen: the process's peak resident memory is then the calibration's, not
 * the one the stage estimates print. Modelled as the estimates are (`RUNTIME_BYTES` + the candidate's analytic
 * training memory), from the plan alone.
 */
function calibrationPeak(o: TimeBudgetOptions, calibrated: Candidate[], best: Pick, costOf: (c: Candidate) => ConfigurationCost, memory: number): void {
  const peak = (c: Candidate) => RUNTIME_BYTES + costOf(c).trainingBytes;
  const top = [...calibrated].sort((x, y) => peak(y) - peak(x))[0];
  if (!top || top === best.c || peak(top) <= trainingPeak(o, best.c, costOf(best.c))) return;
  o.log?.(
    `time budget: calibrating ${top.configuration} patch ${top.cfg.patch_size!.join('x')}, batch ${top.cfg.batch_size} needed about ${formatBytes(peak(top))} (modelled), ` +
      `more than training the plan chosen: the process's peak memory is that calibration's (${formatBytes(memory)} available)`,
  );
}

/** {@link calibrateHost} of a candidate's configuration on the run's representative case (null without cases). */
async function hostOf(o: TimeBudgetOptions, c: Candidate): Promise<HostCalibration | null> {
  const sample = representativeCase(o.fingerprint, o.testImages);
  return sample ? calibrateHost({ registry: o.registry, plans: c.plans, configuration: c.configuration, dataset: o.dataset, sample }) : null;
}

/** The first candidate in preference order (mirroring before none) whose estimate fits time and memory. */
function firstFeasible(o: TimeBudgetOptions, list: Candidate[], costOf: (c: Candidate) => ConfigurationCost, memory: number, minIt: number, cap: number, need: (s: number) => void): Pick | undefined {
  for (const c of list) {
    const cost = costOf(c);
    if (trainingPeak(o, c, cost) > memory) continue;
    for (const mirror of o.mirror ? [true, false] : [false]) {
      const f = fit(o, c, cost, mirror);
      if (process.env.NNUNET_TS_DEBUG_BUDGET) {
        o.log?.(`candidate ${c.configuration} x${c.factor} ${c.target}GB patch ${c.cfg.patch_size!.join('x')} b${c.cfg.batch_size} mirror ${mirror}: it ${cost.secondsPerIteration.toFixed(2)}s tile ${cost.secondsPerTile.toFixed(3)}s fixed ${f.fixed.toFixed(0)}s iterations ${f.iterations}`);
      }
      // the budget this candidate would need: minIt iterations after the fixed costs and the margin, fixed <= half
      need(Math.max((f.fixed + minIt * f.perIteration * o.folds) / (1 - MARGIN), 2 * f.fixed));
      if (f.fixed <= 0.5 * o.budgetSeconds && f.iterations >= minIt) return { c, mirror, iterations: Math.min(cap, f.iterations) };
    }
  }
  return undefined;
}

function decide(o: TimeBudgetOptions, best: Pick, cost: ConfigurationCost, calib: Calibration, memory: number, userBudget: number): TimeBudgetDecision {
  const { c } = best;
  // fewer iterations than one epoch holds: one shorter epoch (never round up to a whole epoch past the budget)
  const ipe = Math.max(1, Math.min(o.iterationsPerEpoch, best.iterations));
  const epochs = Math.max(1, Math.floor(best.iterations / ipe));
  const validationIterations = scaledValidationIterations(o.validationIterations, o.iterationsPerEpoch, ipe);
  const shape = { ...runShape({ ...o, iterationsPerEpoch: ipe, validationIterations }, c, best.mirror, epochs * ipe), epochs };
  const estimates = estimateStages(shape, c.cfg, cost);
  const decision: TimeBudgetDecision = {
    plans: c.plans, configuration: c.configuration, epochs, iterationsPerEpoch: ipe, validationIterations, mirror: best.mirror, gpuMemoryTargetGb: c.target,
    spacingFactor: c.factor, patchSize: [...c.cfg.patch_size!], batchSize: c.cfg.batch_size ?? 2, budgetSeconds: userBudget,
    secondsBeforeStages: userBudget - o.budgetSeconds, estimates,
    calibration: { ...calib, secondsPerIteration: cost.secondsPerIteration, secondsPerTile: cost.secondsPerTile },
  };
  const spent = userBudget - o.budgetSeconds;
  o.log?.(`time budget ${formatDuration(userBudget)} on ${o.backend.info.name} (${formatDuration(o.budgetSeconds)} left after ${formatDuration(spent)} of validation, fingerprint and calibration; memory available ${formatBytes(memory)}): ${describeDecision(decision)}`);
  return decision;
}

/**
 * Validation iterations per epoch for an epoch shortened to `iterationsPerEpoch`: the budget's `validation` per
 * `budgetIterationsPerEpoch` kept in ratio (nnU-Net: 50 per 250), rounded, at least 1, at most the budget's.
 */
export function scaledValidationIterations(validation: number, budgetIterationsPerEpoch: number, iterationsPerEpoch: number): number {
  return Math.min(validation, Math.max(1, Math.round((validation * iterationsPerEpoch) / Math.max(1, budgetIterationsPerEpoch))));
}

/** Training iterations per fold below which a budget's model is warned about (nnU-Net trains 1000 x 250). */
const FEW_ITERATIONS = 250;

/** Say why nnU-Net's own plan was passed over, and warn when the budget buys too few iterations for a usable model. */
function explainChoice(o: TimeBudgetOptions, own: Candidate, best: Pick, ownCost: ConfigurationCost, measured: boolean): void {
  if (best.c !== own) {
    const f = fit(o, own, ownCost, false);
    const need = (f.fixed + (o.minIterations ?? 50) * f.perIteration * o.folds) / (1 - MARGIN);
    o.log?.(
      `time budget: nnU-Net's own plan (${own.configuration}, patch ${own.cfg.patch_size!.join('x')}, batch ${own.cfg.batch_size}) needs about ${formatDuration(need)} ` +
        `(${ownCost.secondsPerIteration.toFixed(2)} s per iteration, ${measured ? 'measured' : 'estimated'}), more than the ${formatDuration(o.budgetSeconds)} left: a smaller plan is used`,
    );
  }
  if (best.iterations < FEW_ITERATIONS) {
    o.log?.(`warning: this budget buys only ${best.iterations} training iterations per fold (nnU-Net trains 250,000; the quick preset at least 480): expect a poor model, or give a larger --time-budget`);
  }
}

/** One line: what the budget planner chose. */
export function describeDecision(d: TimeBudgetDecision): string {
  const cfg = d.plans.configurations[d.configuration]!;
  return `${d.configuration}, spacing [${(cfg.spacing ?? []).map((v) => v.toFixed(3)).join(', ')}]${d.spacingFactor !== 1 ? ` (nnU-Net's fine axes x${d.spacingFactor})` : ''}, ` +
    `patch ${d.patchSize.join('x')}, batch ${d.batchSize} (memory target ${d.gpuMemoryTargetGb} GB), ${d.epochs} x ${d.iterationsPerEpoch} iterations (+ ${d.validationIterations} validation), ` +
    `mirroring TTA ${d.mirror ? 'on' : 'off'}`;
}

/** The record written into the plans (`time_budget`) and run.json. */
export function decisionRecord(d: TimeBudgetDecision): Record<string, unknown> {
  return {
    budget_seconds: d.budgetSeconds, seconds_before_stages: Math.round(d.secondsBeforeStages), configuration: d.configuration, epochs: d.epochs, iterations_per_epoch: d.iterationsPerEpoch,
    validation_iterations_per_epoch: d.validationIterations, mirror: d.mirror,
    gpu_memory_target_gb: d.gpuMemoryTargetGb, spacing_factor: d.spacingFactor, patch_size: d.patchSize, batch_size: d.batchSize,
    seconds_per_iteration: d.calibration.secondsPerIteration, seconds_per_tile: d.calibration.secondsPerTile, backend: d.calibration.backend,
    estimates: d.estimates.map((e) => ({ stage: e.stage, seconds: Math.round(e.seconds), peak_bytes: e.peakBytes })),
  };
}

