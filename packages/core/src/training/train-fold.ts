import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Network } from '../contracts/network.js';
import { loadParameters, polyLR, saveParameters } from '../nn/index.js';
import { writeFileAtomic } from './atomic.js';
import { defaultCaseSource } from './cache-source.js';
import { hasCheckpoint, loadCheckpoint, saveCheckpoint, type CheckpointMeta, type ProgressLog } from './checkpoint.js';
import { upcomingBatches } from './batch-queue.js';
import { progressPng } from './progress-plot.js';
import { NnunetTrainingLog } from './training-log.js';
import { confusionCounts, pseudoDice, regionConfusionCounts } from './targets.js';
import { trainStep, validationStep } from './train-step.js';
import { setupTraining, type TrainFoldOptions, type TrainingContext } from './trainer-setup.js';
import { DeadlineClock } from './deadline.js';

/** Result of {@link trainFold}. */
export interface TrainResult {
  /** `<outputDir>/fold_<f>`. */
  foldDir: string;
  epochsCompleted: number;
  /** Best EMA pseudo Dice seen (null when there was no validation). */
  bestEma: number | null;
  logs: ProgressLog;
  /** The trained network (final weights), deep supervision still on. */
  network: Network;
  /** Mirror axes used (patch axes), also stored in the checkpoints for prediction. */
  mirrorAxes: number[];
}

const yieldLoop = () => new Promise<void>((r) => setImmediate(r));

/**
 * Train one fold the nnU-Net v2 way (RULES.md §15, §16; nnunetv2/training/nnUNetTrainer/nnUNetTrainer.py): network
 * from the registry by `network_class_name` and dims (2 for 2d patches), the settings' loss (`DC_and_CE_loss`) with the plans'
 * `batch_dice` and deep supervision weights, SGD and poly lr stepped per epoch, gradient norm clipping, foreground
 * oversampling, all from `o.settings` over nnU-Net's defaults (`DEFAULT_TRAINER_SETTINGS`: lr 1e-2, momentum
 * 0.99 nesterov, weight decay 3e-5, exponent 0.9, clip 12, 33% oversampling); `epochs` x `iterationsPerEpoch`
 * batches with the augmentation plugin, then `validationIterations` validation batches (no augmentation) for the
 * pseudo Dice and its EMA. Batches are loaded and augmented by `o.dataWorkers` worker threads ahead of the loop
 * (nnU-Net's background augmenter; 0: on the training thread), each from its own seed (`batchSeed`), so the run
 * does not depend on the number of workers.
 * Every epoch writes `checkpoint_latest` (weights, momentum, epoch, RNG states, logs), `progress.json`,
 * `progress.png` (nnU-Net's plot) and appends to `training_log_<date>.txt` (nnU-Net's lines, a new file per start);
 * a new best EMA writes `checkpoint_best`; the end writes `checkpoint_final`. With `resume`, training continues from
 * `checkpoint_latest` and gives the same weights as an uninterrupted run on a deterministic backend.
 * With `o.deadline` (a time budget), the schedule is shortened when the wall clock says the rest would end late
 * (`DeadlineClock`; the checkpoints record it as `time_budget_stop`).
 * Throws `DataError`/`NnunetError` for unusable inputs (missing configuration, corrupt cache or checkpoint).
 */
export async function trainFold(o: TrainFoldOptions): Promise<TrainResult> {
  const ctx = await setupTraining(o, o.cases ?? (await defaultCaseSource(o.preprocessedDir)));
  try {
    return await runFold(ctx);
  } finally {
    await ctx.batches.close();
  }
}

async function runFold(ctx: TrainingContext): Promise<TrainResult> {
  const o = ctx.o;
  const log = o.log ?? (() => {});
  const foldDir = join(o.outputDir, ctx.foldName);
  // nnU-Net's trainer writes plans.json and dataset.json into its output folder; a pipeline that wrote them already
  // (`writeModelFiles`) keeps its copies, so a resumed run leaves the same bytes as an uninterrupted one
  for (const [name, value] of [['plans.json', o.plans], ['dataset.json', o.dataset]] as const) {
    if (!existsSync(join(o.outputDir, name))) await writeFileAtomic(join(o.outputDir, name), JSON.stringify(value, null, 4));
  }
  if (o.resume && (await hasCheckpoint(foldDir, 'latest'))) {
    await restore(ctx, foldDir);
    // 1-based like the estimate printed before the run (`describeProgress`: 'resuming fold 1 at epoch 2/3')
    log(`resuming ${ctx.foldName} at epoch ${ctx.epoch + 1}/${ctx.epochs}: ${ctx.epoch} of ${ctx.epochs} epochs done (checkpoint_latest)`);
  }
  await writeFileAtomic(join(foldDir, 'debug.json'), JSON.stringify(debugInfo(ctx), null, 2));
  const trainingLog = startTrainingLog(ctx, foldDir);
  const timing: EpochTiming[] = [];
  const clock = new DeadlineClock(o.deadline, ctx.iterations, ctx.epoch * ctx.iterations, ctx.valLoader ? ctx.valIterations : 0);
  let previous: { start: number; training: number } | null = null;
  for (; ctx.epoch < ctx.epochs; ) {
    const t0 = Date.now() / 1000;
    if (previous) clock.epochDone(t0 - previous.start, previous.training);
    shortenSchedule(ctx, clock, log);
    const lr = polyLR(ctx.settings.initialLr, ctx.epoch, ctx.epochs, ctx.settings.polyExponent);
    ctx.optimizer.lr = lr;
    trainingLog.epochStart(ctx.epoch, lr);
    const { loss: trainLoss, dataSeconds, stepSeconds, iterations: ran } = await trainEpoch(ctx, lr, clock);
    previous = { start: t0, training: dataSeconds + stepSeconds };
    if (ran < ctx.iterations) stopEpochEarly(ctx, clock, ran, log);
    timing.push({ epoch: ctx.epoch, data_seconds: dataSeconds, step_seconds: stepSeconds, data_wait_fraction: dataSeconds / Math.max(1e-9, dataSeconds + stepSeconds) });
    const val = ctx.valLoader ? await validateEpoch(ctx, lr) : null;
    const l = ctx.logs;
    const ema = nextEma(l.ema_fg_dice, val?.mean ?? NaN, ctx.settings.pseudoDiceEmaAlpha);
    l.train_losses.push(trainLoss);
    l.val_losses.push(val?.loss ?? NaN);
    l.mean_fg_dice.push(val?.mean ?? NaN);
    l.dice_per_class_or_region.push(val?.perClass ?? []);
    l.ema_fg_dice.push(ema);
    l.lrs.push(lr);
    l.epoch_start_timestamps.push(t0);
    l.epoch_end_timestamps.push(Date.now() / 1000);
    ctx.epoch++;
    const isBest = !Number.isNaN(ema) && (ctx.bestEma === null || ema > ctx.bestEma);
    if (isBest) ctx.bestEma = ema;
    await saveState(ctx, foldDir, 'latest');
    if (isBest) await saveState(ctx, foldDir, 'best');
    await writeFileAtomic(join(foldDir, 'progress.json'), JSON.stringify(ctx.logs, jsonNaN, 1));
    trainingLog.epochEnd(ctx.logs, isBest ? ema : null);
    await writeFileAtomic(join(foldDir, 'progress.png'), await progressPng(ctx.logs));
    await writeFileAtomic(join(foldDir, 'debug.json'), JSON.stringify({ ...debugInfo(ctx), timing }, null, 2));
    o.onProgress?.({ phase: 'epoch', epoch: ctx.epoch - 1, epochs: ctx.epochs, iteration: ctx.iterations, iterations: ctx.iterations, loss: trainLoss, lr, meanFgDice: val?.mean, emaFgDice: ema, valLoss: val?.loss, dataWaitFraction: timing[timing.length - 1]!.data_wait_fraction });
    log(`${ctx.foldName} epoch ${ctx.epoch - 1}: train_loss ${trainLoss.toFixed(4)} val_loss ${(val?.loss ?? NaN).toFixed(4)} pseudo dice [${(val?.perClass ?? []).map((d) => d.toFixed(4)).join(', ')}] ema ${ema.toFixed(4)} lr ${lr.toExponential(3)} (${(Date.now() / 1000 - t0).toFixed(1)} s)`);
  }
  await saveState(ctx, foldDir, 'final');
  trainingLog.print(['Training done.']);
  return { foldDir, epochsCompleted: ctx.epoch, bestEma: ctx.bestEma, logs: ctx.logs, network: ctx.network, mirrorAxes: ctx.da.mirrorAxes };
}

/** A new `training_log_<date>.txt` in the fold folder with nnU-Net's header (citation, split sizes, plans). */
function startTrainingLog(ctx: TrainingContext, foldDir: string): NnunetTrainingLog {
  const o = ctx.o;
  const split = o.fold === 'all' ? undefined : o.splits[o.fold];
  const all = o.splits[0] ? [...o.splits[0].train, ...o.splits[0].val] : [];
  const trainingLog = new NnunetTrainingLog(foldDir);
  trainingLog.header({
    doDummy2D: ctx.da.doDummy2D, fold: o.fold, nTrain: split?.train.length ?? all.length, nVal: split?.val.length ?? all.length,
    configuration: o.configuration, plans: o.plans,
  });
  return trainingLog;
}

/**
 * EMA of the pseudo Dice (nnunetv2/training/logging/nnunet_logger.py): `alpha * previous + (1 - alpha) * new`
 * (alpha 0.9), the first value as is.
 * Unlike nnU-Net, an undefined (NaN) pseudo Dice (no foreground in any validation patch) keeps the previous EMA
 * instead of turning every later EMA into NaN.
 */
export function nextEma(history: number[], value: number, alpha = 0.9): number {
  const prev = [...history].reverse().find((v) => v !== null && !Number.isNaN(v));
  if (Number.isNaN(value)) return prev ?? NaN;
  return prev === undefined ? value : alpha * prev + (1 - alpha) * value;
}

function jsonNaN(_k: string, v: unknown): unknown {
  return typeof v === 'number' && !Number.isFinite(v) ? null : v;
}

/**
 * Wall time of one epoch's training iterations: waiting for batches (`data_seconds`: loading + augmenting on the
 * training thread, or waiting for the data-loading workers) and the device steps; written to debug.json.
 */
interface EpochTiming {
  epoch: number;
  data_seconds: number;
  step_seconds: number;
  data_wait_fraction: number;
}

async function trainEpoch(ctx: TrainingContext, lr: number, clock: DeadlineClock): Promise<{ loss: number; dataSeconds: number; stepSeconds: number; iterations: number }> {
  let sum = 0;
  let dataSeconds = 0;
  let stepSeconds = 0;
  let it = 0;
  for (; it < ctx.iterations; it++) {
    if (clock.stopBeforeNextIteration()) break;
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const r = { phase: 'train', epoch: ctx.epoch, iteration: it } as const;
    const batch = await ctx.batches.get(r, upcomingBatches(r, ctx.iterations, ctx.iterations));
    const t1 = performance.now();
    const cpu = process.cpuUsage(cpu0);
    const loss = await trainStep(ctx.network, ctx.optimizer, ctx.loss, batch, ctx.ignoreLabel, ctx.settings.gradClipNorm);
    dataSeconds += (t1 - t0) / 1000;
    stepSeconds += (performance.now() - t1) / 1000;
    clock.iterationDone((performance.now() - t0) / 1000);
    sum += loss;
    ctx.o.onProgress?.({ phase: 'train', epoch: ctx.epoch, epochs: ctx.epochs, iteration: it + 1, iterations: ctx.iterations, loss, lr, dataSeconds: (t1 - t0) / 1000, dataCpuSeconds: (cpu.user + cpu.system) / 1e6 });
    await yieldLoop();
  }
  return { loss: sum / Math.max(1, it), dataSeconds, stepSeconds, iterations: it };
}

/** Under a deadline: fewer epochs when the rest of the schedule would end after it (logged once per change). */
function shortenSchedule(ctx: TrainingContext, clock: DeadlineClock, log: (s: string) => void): void {
  const fit = clock.epochsThatFit(ctx.epoch, ctx.epochs);
  if (fit >= ctx.epochs) return;
  const utc = (ms: number) => `${new Date(ms).toISOString().slice(11, 19)} UTC`;
  const deadline = clock.deadline!;
  const late = clock.floorEndsAt(ctx.epoch, ctx.epochs);
  // the floor of minIterations outranks the deadline: say that the fold, and so the run, ends late, and by how much
  const end = late === null
    ? `to end by ${utc(deadline.endsAt)}: this machine runs slower than calibrated`
    : `to end by ${utc(deadline.endsAt)}: this machine runs slower than calibrated, and the budget's floor of ${deadline.minIterations} training iterations ` +
      `(minIterations) keeps it training past that deadline, to about ${utc(late)}: the time budget will be exceeded by about ${Math.max(1, Math.round((late - deadline.endsAt) / 60_000))} min`;
  log(`time budget: ${ctx.foldName} runs ${fit} of the ${ctx.epochs} epochs left in its schedule (${ctx.plannedEpochs} planned), ${end}; the poly learning rate decays over the shorter schedule`);
  ctx.epochs = fit;
  ctx.stop = { epochs: fit, lastEpochIterations: ctx.iterations, iterations: fit * ctx.iterations, plannedIterations: ctx.plannedEpochs * ctx.iterations };
}

/** Under a deadline: the epoch stopped after `ran` iterations is the last one. */
function stopEpochEarly(ctx: TrainingContext, clock: DeadlineClock, ran: number, log: (s: string) => void): void {
  ctx.epochs = ctx.epoch + 1;
  const planned = ctx.plannedEpochs * ctx.iterations;
  ctx.stop = { epochs: ctx.epochs, lastEpochIterations: ran, iterations: clock.iterationsDone, plannedIterations: planned };
  log(`time budget: ${ctx.foldName} stops after ${clock.iterationsDone} of ${planned} training iterations (epoch ${ctx.epoch} ran ${ran} of ${ctx.iterations}) to keep the budget; ` +
    'the model is trained less than planned: give a larger --time-budget for the full schedule');
}

async function validateEpoch(ctx: TrainingContext, lr: number): Promise<{ loss: number; mean: number; perClass: number[] }> {
  const K = ctx.regions ? ctx.regions.length : ctx.numClasses - 1; // counted classes: regions, or labels but background
  const acc = { tp: new Array<number>(K).fill(0), fp: new Array<number>(K).fill(0), fn: new Array<number>(K).fill(0) };
  let sum = 0;
  for (let it = 0; it < ctx.valIterations; it++) {
    const req = { phase: 'val', epoch: ctx.epoch, iteration: it } as const;
    const batch = await ctx.batches.get(req, upcomingBatches(req, ctx.valIterations, ctx.valIterations));
    const r = await validationStep(ctx.network, ctx.loss, batch, ctx.ignoreLabel);
    const c = ctx.regions
      ? regionConfusionCounts(r.logits.data, r.logits.shape, r.seg, ctx.regions, ctx.ignoreLabel)
      : confusionCounts(r.logits.data, r.logits.shape, r.seg, ctx.ignoreLabel);
    for (let k = 0; k < K; k++) {
      acc.tp[k]! += c.tp[k]!;
      acc.fp[k]! += c.fp[k]!;
      acc.fn[k]! += c.fn[k]!;
    }
    sum += r.loss;
    ctx.o.onProgress?.({ phase: 'val', epoch: ctx.epoch, epochs: ctx.epochs, iteration: it + 1, iterations: ctx.valIterations, loss: r.loss, lr });
    await yieldLoop();
  }
  const d = pseudoDice(acc);
  return { loss: sum / Math.max(1, ctx.valIterations), mean: d.mean, perClass: d.perClass };
}

function metaOf(ctx: TrainingContext): Omit<CheckpointMeta, 'blobs' | 'bin_bytes' | 'bin_sha256'> {
  const o = ctx.o;
  return {
    format: 'nnunet-ts-checkpoint/1', trainer_name: 'nnUNetTrainer', configuration: o.configuration, fold: o.fold,
    plans_name: o.plans.plans_name, dataset_name: o.plans.dataset_name, network_class_name: ctx.arch.network_class_name,
    dims: ctx.dims, input_channels: ctx.inputChannels, num_classes: ctx.numClasses, patch_size: ctx.patchSize,
    inference_allowed_mirroring_axes: ctx.da.mirrorAxes, current_epoch: ctx.epoch, num_epochs: ctx.plannedEpochs,
    num_iterations_per_epoch: ctx.iterations, num_val_iterations_per_epoch: ctx.valIterations, batch_size: ctx.batchSize,
    seed: ctx.seed, augmentation: o.augmentation ?? 'nnUNetDefault', best_ema: ctx.bestEma,
    ...(o.previousStage ? { previous_stage: o.previousStage, previous_stage_labels: ctx.cascade!.labels } : {}),
    rng: { train: ctx.rngs.train.getState(), augment: ctx.rngs.augment.getState(), val: ctx.rngs.val.getState() },
    logging: ctx.logs,
    ...(ctx.stop ? { time_budget_stop: ctx.stop } : {}),
  };
}

async function saveState(ctx: TrainingContext, foldDir: string, kind: string): Promise<void> {
  await ctx.network.pullParameters();
  await saveCheckpoint(foldDir, kind, { meta: metaOf(ctx), parameters: saveParameters(ctx.network.parameters), optimizer: await ctx.optimizer.state() });
}

async function restore(ctx: TrainingContext, foldDir: string): Promise<void> {
  const ck = await loadCheckpoint(foldDir, 'latest');
  loadParameters(ctx.network.parameters, ck.parameters);
  ctx.network.pushParameters();
  ctx.optimizer.loadState(ck.optimizer);
  ctx.epoch = ck.meta.current_epoch;
  ctx.bestEma = ck.meta.best_ema;
  ctx.logs = ck.meta.logging;
  if (ck.meta.time_budget_stop) {
    ctx.stop = ck.meta.time_budget_stop;
    ctx.epochs = ck.meta.time_budget_stop.epochs;
  }
  for (const k of ['train', 'augment', 'val'] as const) if (ck.meta.rng[k]) ctx.rngs[k].setState(ck.meta.rng[k]);
}

function debugInfo(ctx: TrainingContext): Record<string, unknown> {
  return {
    configuration: ctx.o.configuration, fold: ctx.o.fold, plans_name: ctx.o.plans.plans_name, backend: ctx.network.device.info.name,
    network_class_name: ctx.arch.network_class_name, dims: ctx.dims, patch_size: ctx.patchSize, initial_patch_size: ctx.da.initialPatchSize,
    batch_size: ctx.batchSize, data_workers: ctx.batches.workers, num_epochs: ctx.plannedEpochs, num_iterations_per_epoch: ctx.iterations, num_val_iterations_per_epoch: ctx.valIterations,
    initial_lr: ctx.settings.initialLr, weight_decay: ctx.settings.weightDecay, momentum: ctx.settings.momentum, grad_clip: ctx.settings.gradClipNorm, oversample_foreground_percent: ctx.settings.oversampleForegroundPercent,
    trainer_settings: ctx.settings,
    rotation_for_DA: ctx.da.rotation, do_dummy_2d_data_aug: ctx.da.doDummy2D, mirror_axes: ctx.da.mirrorAxes,
    augmentation: ctx.o.augmentation ?? 'nnUNetDefault', transforms: ctx.transforms.map((t) => t.name), num_classes: ctx.numClasses,
    ignore_label: ctx.ignoreLabel ?? null, seed: ctx.seed, start_epoch: ctx.epoch,
    previous_stage: ctx.o.previousStage ?? null, input_channels: ctx.inputChannels, cascade_transforms: ctx.cascade?.train.map((t) => t.name) ?? [],
  };
}
