/**
 * Job runner contract: a run of the pipeline as a graph of jobs (preprocess a case, train a configuration's fold,
 * validate it, find the best configuration, predict a test case, evaluate), executed by a runner. Core runs the
 * jobs in this process (`InProcessRunner`, the default); a job-queue plugin (`@nnunet-ts/queue-bullmq`) spreads
 * them over worker processes and machines. Every job is plain JSON so it can travel through a queue; every job's
 * outputs live in the run folder, written atomically, and a job whose outputs are already there and valid does
 * nothing (so a job may be run again after a crash or a lost queue).
 */
import type { Budget } from '../pipeline/presets.js';
import type { Reporter } from '../pipeline/progress.js';

/** What a job does (see `executeJob` in core/src/pipeline/jobs). */
export type JobKind = 'preprocess' | 'train' | 'validate' | 'find-best' | 'predict' | 'evaluate';

/** One unit of work. `id` is deterministic (same run, same id), made of `[A-Za-z0-9_.-]`. */
export interface JobSpec {
  id: string;
  kind: JobKind;
  /** Data configuration (preprocess) or configuration (train, validate). */
  configuration?: string;
  fold?: number;
  /** Case id (preprocess: a training case; predict: a test case). */
  caseId?: string;
}

/** Everything a worker needs to run a job of this run besides the run folder's files. JSON. */
export interface RunSpec {
  /** Absolute run folder, shared by the submitter and every worker. */
  out: string;
  /** Absolute (converted) dataset folder the jobs read. */
  dataset: string;
  budget: Budget;
  /** Compute backend requested by the submitter (a worker's own `--backend` wins). */
  backend: string;
  /** Configurations trained, in training order (a cascade after its previous stage). */
  configurations: string[];
  folds: number[];
  /**
   * Time budget only: wall-clock time (`Date.now()`, ms) by which every fold's training should end, so that
   * validation and test prediction still fit the budget (`trainingDeadline` in the pipeline); folds share what is left.
   */
  trainingEndsAt?: number;
  /**
   * Time budget on a cluster (`nnunet-ts slurm`) instead of `trainingEndsAt`: seconds each training job may train,
   * counted from its own start (queue waits do not count; `trainingSecondsPerTask` in the pipeline computes it).
   */
  trainingSecondsPerTask?: number;
}

/**
 * A run as waves of jobs: every job of wave k may start once every job of waves 0..k-1 has finished; jobs of one
 * wave are independent of each other.
 */
export interface JobGraph {
  /** Deterministic key of the run (run folder, dataset, budget): a second submit of the same run has the same key. */
  runKey: string;
  run: RunSpec;
  waves: JobSpec[][];
}

/** What a runner reports while a graph runs. */
export interface JobEvent {
  job: JobSpec | { id: string; kind: 'run' };
  state: 'active' | 'completed' | 'failed' | 'progress' | 'attached' | 'resubmitted';
  /** Failure reason, or a progress text. */
  message?: string;
  /** Jobs finished so far and the total, when known. */
  done?: number;
  total?: number;
}

/** Runs the jobs of a graph to completion. */
export interface JobRunner {
  readonly name: string;
  /**
   * Run every job of `graph`, wave after wave, reporting through `onEvent`; resolves when all are done.
   * @throws NnunetError with the failed job's message when a job fails for good
   */
  run(graph: JobGraph, onEvent?: (e: JobEvent) => void): Promise<void>;
  /**
   * Optional: connect to the queue, so that an unreachable one is an error before any work (`runDecathlon` calls it
   * before validating and planning).
   * @throws NnunetError naming the queue's address and how to reach it
   */
  connect?(): Promise<void>;
  /** Release connections. */
  close(): Promise<void>;
}

/**
 * What a job may tell its runner besides its files: a predict job, whether it wrote its case's segmentation into
 * `folder` or kept the one there (predicted earlier by the same model from the same images). The in-process runner
 * sums these into one line for the wave; runners that do not read it lose nothing but that line.
 */
export interface JobOutcome {
  outputs?: { folder: string; written: number; kept: number };
}

/**
 * Executes one job of a run, reporting through `rep` (core's `createJobExecutor`; the CLI's worker runs it in a
 * child process). `signal` aborts it (a queue worker that lost the job's lock: another worker may run it).
 * Resolves with the job's `JobOutcome`, when it has one.
 */
export type JobExecutor = (job: JobSpec, run: RunSpec, rep: Reporter, signal?: AbortSignal) => Promise<JobOutcome | void>;

/** A worker process serving a queue until `close`. */
export interface JobWorker {
  /** Resolves when the worker is connected and taking jobs. */
  ready(): Promise<void>;
  /** Stop taking jobs, let the active ones finish (`force`: abandon them) and disconnect. */
  close(force?: boolean): Promise<void>;
}

/** Options of a queue worker. */
export interface JobWorkerOptions {
  /** Jobs run at once by this worker (default 1: one process per core or GPU is the usual setup). */
  concurrency?: number;
  execute: JobExecutor;
  /** Milliseconds a job's lock lasts without renewal before another worker may take the job over (stalled). */
  lockDurationMs?: number;
  /** Milliseconds between checks for stalled jobs. */
  stalledIntervalMs?: number;
  log?: (s: string) => void;
}

/** A job-queue plugin: connects runners and workers to a queue named by a URL (e.g. `redis://host:6379`). */
export interface JobQueuePlugin {
  name: string;
  /** URL schemes it serves, with the colon (`redis:`). */
  protocols: string[];
  runner(url: string, opts?: { log?: (s: string) => void }): JobRunner;
  worker(url: string, opts: JobWorkerOptions): JobWorker;
}
