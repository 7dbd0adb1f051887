import { transformTargets, type AugmentationOptions, type Rng, type Sample, type Transform } from '../contracts/augmentation.js';
import { annotatedKey, labelManager, locationClasses } from '../dataset/label-manager.js';
import type { ComputeBackend } from '../contracts/backend.js';
import type { DeviceBackend } from '../contracts/device.js';
import type { Loss, LossOptions } from '../contracts/loss.js';
import type { Network } from '../contracts/network.js';
import type { ArchitectureSpec, DatasetJson, Plans, Splits } from '../contracts/plans.js';
import { deepSupervisionWeights, DeviceSGD, resolveDevice } from '../nn/index.js';
import type { Registry } from '../registry/registry.js';
import { DataError, NnunetError } from '../util/errors.js';
import type { CaseSource, PreprocessedCaseData } from './case-source.js';
import { CaseStore, DEFAULT_CASE_CACHE_BYTES } from './case-store.js';
import { emptyLog, type ProgressLog } from './checkpoint.js';
import { appendPreviousStage, cascadeTransformsFrom, PREVIOUS_STAGE_KEY, previousStageProxy, type CascadeTransforms } from './cascade.js';
import { getConfiguration } from '../planning/plans-io.js';
import { labelSetup } from './configuration.js';
import { daSettings, type DaSettings } from './da-settings.js';
import { resolveTrainerSettings, type TrainerSettings } from './trainer-settings.js';
import { PatchLoader, type PatchLoaderOptions } from './data-loader.js';
import { BatchQueue, defaultDataWorkers } from './batch-queue.js';
import { makeBatch, type BatchEnv } from './batches.js';
import { cropWithPadding } from './patch-sampler.js';
import { createRng, deriveSeed, type SeededRng } from './rng.js';
import { foldCases } from './splits.js';
import type { DeadlineStop, TrainingDeadline } from './deadline.js';

/** Progress report passed to `onProgress` (the CLI draws its bar from it). */
export interface TrainProgress {
  phase: 'train' | 'val' | 'epoch';
  /** 0-based epoch. */
  epoch: number;
  epochs: number;
  /** 1-based iteration within the phase. */
  iteration: number;
  iterations: number;
  /** Loss of this iteration (phase train/val) or the epoch's mean train loss (phase epoch). */
  loss: number;
  lr: number;
  /** Phase epoch only: pseudo Dice (mean over foreground classes) and its EMA. */
  meanFgDice?: number;
  emaFgDice?: number;
  valLoss?: number;
  /** Phase epoch only: fraction of the training iterations' wall time spent loading/augmenting (device waiting). */
  dataWaitFraction?: number;
  /** Phase train only: seconds this iteration waited for its batch (loading and augmenting it on the training thread, or waiting for the data-loading workers). */
  dataSeconds?: number;
  /**
   * Phase train only: CPU seconds the process (every thread: the training thread, the backend's threads, the
   * data-loading workers) used while this iteration's batch was made or waited for (`process.cpuUsage`).
   */
  dataCpuSeconds?: number;
}

/** Options of `trainFold` (docs/INTERFACES.md). */
export interface TrainFoldOptions {
  registry: Registry;
  /** The device the network trains on (`selectDevice`); without it, `backend` inside a `HostDeviceBackend`. */
  device?: DeviceBackend;
  /** Used when `device` is absent: a device backend or a legacy compute backend (wrapped, see `resolveDevice`). */
  backend?: ComputeBackend | DeviceBackend;
  plans: Plans;
  configuration: string;
  dataset: DatasetJson;
  /** Preprocessed cases of this configuration (cache written by preprocessing). */
  preprocessedDir: string;
  splits: Splits;
  fold: number | 'all';
  /** Model folder `<model>`; the fold writes `<model>/fold_<f>/` (plans.json and dataset.json go to `<model>`). */
  outputDir: string;
  /** Epochs (RULES.md §15 default 1000). */
  epochs?: number;
  /** Training iterations per epoch (default 250). */
  iterationsPerEpoch?: number;
  /** Validation batches per epoch for the pseudo Dice (default 50). */
  validationIterations?: number;
  /** Default: the configuration's `batch_size`. */
  batchSize?: number;
  /** Continue from `checkpoint_latest` when it exists. */
  resume?: boolean;
  /** A time budget's wall-clock limit for this fold (`DeadlineClock`); absent: the whole schedule runs (nnU-Net). */
  deadline?: TrainingDeadline;
  /** Augmentation plugin name (default `nnUNetDefault`; `nnUNetNoDA`, `mirrorOnly` for quick runs). */
  augmentation?: string;
  /** Patch axes never mirrored, in training and later in TTA (lateralized labels, B35). */
  excludedMirrorAxes?: number[];
  /** Optimizer, schedule, loss, oversampling and seed; unset fields take nnU-Net's defaults (`DEFAULT_TRAINER_SETTINGS`). */
  settings?: Partial<TrainerSettings>;
  /**
   * Cascade (`3d_cascade_fullres`, RULES.md §10): the previous stage's configuration name. Every case must then carry
   * `previousStageSeg` (the pipeline attaches the previous stage's cross-validation predictions, resampled to this
   * grid); the network gets one extra one-hot input channel per foreground label, and training applies the
   * registered `nnUNetCascadePreviousStage` transforms (validation batches only the one-hot).
   */
  previousStage?: string;
  /** Case source; default reads the preprocessed cache in `preprocessedDir`. */
  cases?: CaseSource;
  /** Bytes of case data kept in memory (default 2 GiB); larger datasets are re-read from the cache on demand. */
  cacheBytes?: number;
  /**
   * Data-loading worker threads that load and augment batches ahead of the training loop (nnU-Net's background
   * augmenter); 0 loads them on the training thread. Default `defaultDataWorkers()` (env `nnUNet_n_proc_DA`, else
   * the cores less one). The batches do not depend on it. A custom `cases` source, the cascade and augmentations
   * without a `workerModule` always load on the training thread.
   */
  dataWorkers?: number;
  log?: (line: string) => void;
  onProgress?: (p: TrainProgress) => void;
}

/** Everything a running fold holds. */
export interface TrainingContext {
  o: TrainFoldOptions;
  foldName: string;
  arch: ArchitectureSpec;
  dims: 2 | 3;
  patchSize: number[];
  patch3: number[];
  /** Network input channels: image channels, plus one per foreground label for the cascade. */
  inputChannels: number;
  /** Cascade transforms (null for other configurations). */
  cascade: CascadeTransforms | null;
  numClasses: number;
  ignoreLabel?: number;
  /** Region-based training: the foreground regions (one sigmoid output each), else null. */
  regions: number[][] | null;
  batchSize: number;
  /** Epochs of the schedule: `plannedEpochs`, or fewer when a time budget's deadline shortened it. */
  epochs: number;
  /** Epochs asked for (`o.epochs`, default 1000): the checkpoints' `num_epochs`. */
  plannedEpochs: number;
  /** Set when a deadline shortened the schedule. */
  stop?: DeadlineStop;
  iterations: number;
  valIterations: number;
  seed: number;
  /** The complete trainer settings of this fold. */
  settings: TrainerSettings;
  da: DaSettings;
  network: Network;
  loss: Loss;
  optimizer: DeviceSGD;
  transforms: Transform[];
  trainLoader: PatchLoader;
  valLoader: PatchLoader | null;
  rngs: { train: SeededRng; augment: SeededRng; val: SeededRng };
  /** Base seeds of the per-batch generators (`batchSeed`): batches depend on (seed, fold, epoch, iteration) only. */
  batchSeeds: { train: number; val: number };
  /** Where batches come from (this thread or the data-loading workers); closed by `trainFold`. */
  batches: BatchQueue;
  epoch: number;
  bestEma: number | null;
  logs: ProgressLog;
}

/**
 * A case store over `source` that checks every case as it is read, and a first pass reading every case once
 * (B45: a corrupt cache entry fails here, naming the file, not mid-epoch). Cases stay in memory up to `cacheBytes`.
 */
export async function openCases(source: CaseSource, ids: string[], channels: number, cacheBytes?: number, needsPreviousStage = false): Promise<CaseStore> {
  const check = (id: string, c: PreprocessedCaseData) => {
    if (needsPreviousStage && c.previousStageSeg?.length !== c.data.length / Math.max(1, c.shape[0]!)) {
      throw new DataError(`case '${id}' has no previous-stage segmentation on its grid; the cascade cannot train on it`, { hint: 'train the previous stage (3d_lowres) on every fold first' });
    }
    if (!c.seg) throw new DataError(`preprocessed case '${id}' has no segmentation; it cannot be used for training`, { hint: 'preprocess the training cases with their labels' });
    if (c.shape[0] !== channels) {
      throw new DataError(`preprocessed case '${id}' has ${c.shape[0]} channels, dataset.json declares ${channels}`, { hint: 'run preprocessing again for this configuration' });
    }
  };
  const store = new CaseStore(source, cacheBytes, check);
  for (const id of ids) await store.get(id);
  return store;
}

/**
 * nnU-Net's loss choice (`nnUNetTrainer._build_loss`): `DC_and_BCE_loss` over the regions (sigmoid outputs) for
 * region-based labels when the settings name the default `DC_and_CE_loss`, else the settings' loss.
 */
function createLoss(registry: Registry, name: string, opts: LossOptions, regions: number[][] | undefined): Loss {
  if (regions) return registry.get('loss', name === 'DC_and_CE_loss' ? 'DC_and_BCE_loss' : name).create({ ...opts, regions });
  return registry.get('loss', name).create(opts);
}

/** Build network, loss, optimizer, augmentation and loaders for a fold (RULES.md §15 defaults). */
export async function setupTraining(o: TrainFoldOptions, source: CaseSource): Promise<TrainingContext> {
  const cfg = getConfiguration(o.plans, o.configuration);
  const arch = cfg.architecture;
  const patchSize = cfg.patch_size;
  if (!arch || !patchSize) throw new NnunetError(`configuration '${o.configuration}' has no architecture or patch_size`, { hint: 'plan the experiment again' });
  const dims = patchSize.length === 2 ? 2 : 3;
  const { numClasses, ignoreLabel, regions } = labelSetup(o.dataset);
  const imageChannels = Object.keys(o.dataset.channel_names ?? {}).length;
  const batchSize = o.batchSize ?? cfg.batch_size ?? 2;
  const settings = resolveTrainerSettings(o.settings);
  const seed = settings.seed;
  const fi = o.fold === 'all' ? 99 : o.fold;
  const da0 = daSettings(patchSize, { excludedMirrorAxes: o.excludedMirrorAxes });
  // useMaskForNorm is an extension of AugmentationOptions read by nnUNetDefault (MaskImageTransform); others ignore it.
  const augOpts: AugmentationOptions & { useMaskForNorm?: boolean[] } = { patchSize, dims, mirrorAxes: da0.mirrorAxes, doDummy2D: da0.doDummy2D, useMaskForNorm: cfg.use_mask_for_norm };
  const cascade = o.previousStage ? cascadeTransformsFrom(o.registry, o.dataset, augOpts) : null;
  // the cascade's network is PlainConvUNet (the plans' class) with image + one-hot channels (cascadeInputChannels)
  const inputChannels = imageChannels + (cascade?.labels.length ?? 0);
  const device = resolveDevice(o);
  const network = o.registry.get('network', arch.network_class_name, dims).create({
    architecture: arch, inputChannels, numClasses, deepSupervision: true, device, seed: deriveSeed(seed, fi),
  });
  network.setDeepSupervision(true);
  const nDs = Math.max(1, arch.arch_kwargs.strides.length - 1);
  const loss = createLoss(o.registry, settings.loss, { weightCe: settings.lossWeightCe, weightDice: settings.lossWeightDice, batchDice: cfg.batch_dice ?? true, deepSupervisionWeights: deepSupervisionWeights(nDs), ignoreLabel }, regions);
  const optimizer = new DeviceSGD(network.device, network.parameters, { lr: settings.initialLr, momentum: settings.momentum, nesterov: settings.nesterov, weightDecay: settings.weightDecay });
  const transforms = o.registry.get('augmentation', o.augmentation ?? 'nnUNetDefault').create(augOpts);
  const spatial = transforms.some((t) => t.cropsToPatchSize === true);
  const da = spatial ? da0 : { ...da0, initialPatchSize: [...patchSize] };
  const { train, val } = foldCases(o.splits, o.fold);
  const cases = await openCases(source, [...new Set([...train, ...val])], imageChannels, o.cacheBytes, cascade !== null);
  const lm = labelManager(o.dataset);
  const lo = { patchSize, batchSize, oversampleForeground: settings.oversampleForegroundPercent, locationClasses: locationClasses(lm), annotatedKey: annotatedKey(lm) };
  const loaders = { train: { ids: train, loader: { ...lo, initialPatchSize: da.initialPatchSize } }, val: val.length ? { ids: val, loader: { ...lo, initialPatchSize: patchSize } } : null };
  const ctx: Omit<TrainingContext, 'batches'> = {
    o, foldName: `fold_${o.fold}`, arch, dims, patchSize, patch3: dims === 2 ? [1, ...patchSize] : [...patchSize], inputChannels, cascade, numClasses, ignoreLabel, regions: regions ?? null,
    batchSize, epochs: o.epochs ?? 1000, plannedEpochs: o.epochs ?? 1000, iterations: o.iterationsPerEpoch ?? 250, valIterations: o.validationIterations ?? 50, seed, settings, da,
    network, loss, optimizer, transforms,
    trainLoader: new PatchLoader(cases, train, loaders.train.loader),
    valLoader: loaders.val ? new PatchLoader(cases, val, loaders.val.loader) : null,
    rngs: { train: createRng(deriveSeed(seed, 1000 + fi)), augment: createRng(deriveSeed(seed, 2000 + fi)), val: createRng(deriveSeed(seed, 3000 + fi)) },
    batchSeeds: { train: deriveSeed(seed, 4000 + fi), val: deriveSeed(seed, 5000 + fi) },
    epoch: 0, bestEma: null, logs: emptyLog(),
  };
  const batches = batchQueue(ctx, augOpts, loaders);
  // the workers read and keep their own copies of the cases: this thread's copy (from the first pass) is not read again
  if (batches.workers > 0) cases.clear();
  return { ...ctx, batches };
}

/**
 * The fold's batch queue: `o.dataWorkers` (default `defaultDataWorkers()`) Piscina workers, each building the
 * loaders from the preprocessed cache and the augmentation from its plugin's `workerModule`; on the training thread
 * when there are none, or when the cases come from a custom source, for the cascade, or when the augmentation has
 * no `workerModule` (logged). Either way a batch is `makeBatch` of its own seed.
 */
function batchQueue(ctx: Omit<TrainingContext, 'batches'>, options: AugmentationOptions, loaders: { train: { ids: string[]; loader: PatchLoaderOptions }; val: { ids: string[]; loader: PatchLoaderOptions } | null }): BatchQueue {
  const o = ctx.o;
  const name = o.augmentation ?? 'nnUNetDefault';
  const module = o.registry.get('augmentation', name).workerModule;
  let workers = o.dataWorkers ?? defaultDataWorkers();
  const why = o.cases ? 'the cases come from a custom source' : ctx.cascade ? 'the cascade appends the previous stage on this thread' : !module ? `augmentation '${name}' declares no workerModule` : null;
  if (workers > 0 && why) {
    o.log?.(`data loading on the training thread: ${why}`);
    workers = 0;
  }
  const env: BatchEnv = ctx;
  const local = (r: Parameters<BatchQueue['get']>[0]) => makeBatch(env, r, (s, rng) => augmentSample(ctx, s, rng), (s) => validationSample(ctx, s));
  const setup = workers > 0 ? { preprocessedDir: o.preprocessedDir, cacheBytes: Math.floor((o.cacheBytes ?? DEFAULT_CASE_CACHE_BYTES) / workers), ...loaders, augmentation: { module: module!, name, options }, patch3: ctx.patch3, batchSeeds: ctx.batchSeeds } : null;
  return new BatchQueue(local, workers, setup);
}

/** What `augmentSample` / `validationSample` use of a fold. */
export type AugmentEnv = Pick<TrainingContext, 'transforms' | 'cascade' | 'patch3'> & { rngs?: { augment: Rng } };

/**
 * Run the augmentation on a sample with `rng` (default the fold's augmentation generator) and make sure it ends at
 * the patch size (centre crop / pad otherwise).
 */
export function augmentSample(ctx: AugmentEnv, s: Sample, rng: Rng | undefined = ctx.rngs?.augment): Sample {
  if (!rng) throw new Error('augmentSample: no random generator');
  let cur = s;
  const prevSeg = ctx.cascade ? s.properties?.[PREVIOUS_STAGE_KEY] : undefined;
  let prev = prevSeg instanceof Int16Array ? previousStageProxy(prevSeg, s.shape.slice(1)) : null;
  for (const t of ctx.transforms) {
    const p = t.getParameters(cur, rng);
    if (p === null) continue;
    cur = t.apply(cur, p);
    // the previous stage's seg moves with the image (same parameters, resampled as a seg)
    if (prev && transformTargets(t).includes('previousStageSegmentation')) prev = t.apply(prev, p);
  }
  const want = [cur.shape[0]!, ...ctx.patch3];
  if (cur.shape.join(',') !== want.join(',')) {
    const lo = ctx.patch3.map((p, i) => Math.floor((cur.shape[i + 1]! - p) / 2));
    const { image, seg } = cropWithPadding(cur.image, cur.seg ?? null, cur.shape, lo, ctx.patch3);
    if (prev) prev = { ...prev, seg: cropWithPadding(prev.image, prev.seg!, prev.shape, lo, ctx.patch3).seg, shape: [0, ...ctx.patch3] };
    cur = { ...cur, image, seg, shape: want };
  }
  if (!ctx.cascade) return cur;
  if (!prev) throw new NnunetError('cascade sample without its previous-stage segmentation');
  cur = { ...cur, properties: { ...cur.properties, [PREVIOUS_STAGE_KEY]: prev.seg } };
  // nnU-Net order: one-hot move, random binary operator, connected-component removal (RULES.md §10)
  for (const t of ctx.cascade.train) {
    const p = t.getParameters(cur, rng);
    if (p !== null) cur = t.apply(cur, p);
  }
  return cur;
}

/** A validation sample of the cascade: the previous stage's one-hot appended (no augmentation). */
export function validationSample(ctx: AugmentEnv, s: Sample): Sample {
  if (!ctx.cascade) return s;
  const prev = s.properties?.[PREVIOUS_STAGE_KEY];
  if (!(prev instanceof Int16Array)) throw new NnunetError('cascade sample without its previous-stage segmentation');
  const r = appendPreviousStage(ctx.cascade, s.image, s.shape, prev);
  return { ...s, image: r.data, shape: r.shape };
}
