import { hostname } from 'node:os';
import { Queue, UnrecoverableError, WaitingChildrenError, Worker, type Job } from 'bullmq';
import { NnunetError, type JobGraph, type JobSpec, type JobWorker, type JobWorkerOptions, type Reporter, type RunSpec } from '@nnunet-ts/core';
import type { Redis } from 'ioredis';
import { closeWithin, parseQueueUrl, redisConnection, waitConnected, type QueueAddress } from './connection.js';

/** Data of a work job (one `JobSpec` of a run). */
export interface WorkJobData {
  spec: JobSpec;
  run: RunSpec;
  runKey: string;
}

/** Data of a run's orchestrating job: the graph and the next wave to add. */
export interface RunJobData {
  graph: JobGraph;
  step: number;
}

/** Name of the orchestrating job of a run (work jobs are named by their kind). */
export const RUN_JOB = 'run';

/** Id of a run's orchestrating job. */
export const runJobId = (runKey: string) => `run.${runKey}`;

/** Id of a work job: `<runKey>.<job id>` (deterministic: a second submit of a run finds the same jobs). */
export const workJobId = (runKey: string, spec: JobSpec) => `${runKey}.${spec.id}`;

/**
 * Options of every work job: a job failing for an internal reason (or on a worker that cannot see the run folder) is
 * tried 3 times; a data error fails at once (`UnrecoverableError`); a failed job fails its run; finished jobs are
 * kept, so a second submit attaches instead of redoing them.
 */
export const WORK_JOB_OPTS = {
  attempts: 3,
  backoff: { type: 'fixed', delay: 2000 },
  failParentOnFailure: true,
  removeOnComplete: false,
  removeOnFail: false,
} as const;

/**
 * One step of a run's orchestrating job (BullMQ's "process step jobs" pattern): add the next wave's jobs as its
 * children (ids deterministic, so re-adding after a crash adds nothing twice), record the step, and wait for the
 * children; BullMQ runs the step again when they have all completed. A failed child fails the run
 * (`failParentOnFailure`).
 */
export async function orchestrate(job: Job<RunJobData>, token: string, queue: Queue): Promise<{ waves: number }> {
  const { graph } = job.data;
  let step = job.data.step ?? 0;
  while (step < graph.waves.length) {
    const wave = graph.waves[step]!;
    await queue.addBulk(
      wave.map((spec) => ({
        name: spec.kind,
        data: { spec, run: graph.run, runKey: graph.runKey } satisfies WorkJobData,
        opts: { ...WORK_JOB_OPTS, jobId: workJobId(graph.runKey, spec), parent: { id: job.id!, queue: job.queueQualifiedName } },
      })),
    );
    step += 1;
    await job.updateData({ ...job.data, step });
    if (await job.moveToWaitingChildren(token)) throw new WaitingChildrenError();
  }
  return { waves: graph.waves.length };
}

/**
 * A reporter for a work job: log lines on the worker's stderr (prefixed), bars as throttled job progress. Once the
 * job is cancelled (`signal`: this worker lost the job's lock, so another worker may run it) the next report throws,
 * which stops the stage between two steps (training: between iterations) without writing anything half.
 */
function jobReporter(job: Job, log: (s: string) => void, signal?: AbortSignal): Reporter {
  let label = '';
  let total = 0;
  let last = 0;
  const progress = (text: string) => void job.updateProgress({ text } as object).catch(() => {});
  const check = () => {
    if (signal?.aborted) throw new Error(`job ${job.id} cancelled on this worker: ${String(signal.reason ?? 'lock lost')}`);
  };
  return {
    log: (m) => {
      check();
      log(`[${job.id}] ${m}`);
    },
    start(l, n) {
      check();
      label = l;
      total = n;
    },
    update(v, status) {
      check();
      if (Date.now() - last < 2000 && v < total) return;
      last = Date.now();
      progress(`${label} ${v}/${total}${status ? ` ${status}` : ''}`);
    },
    stop() {},
  };
}

/** Run a work job; user errors become `UnrecoverableError` (fail once, with the message and hint), others retry. */
async function work(job: Job<WorkJobData>, o: JobWorkerOptions, log: (s: string) => void, signal?: AbortSignal): Promise<void> {
  const t0 = Date.now();
  log(`[${job.id}] started (attempt ${job.attemptsMade + 1})`);
  try {
    await o.execute(job.data.spec, job.data.run, jobReporter(job, log, signal), signal);
  } catch (e) {
    const msg = e instanceof Error ? e.message : String(e);
    log(`[${job.id}] failed: ${msg}`);
    if (e instanceof NnunetError && e.name === 'RunFolderNotVisibleError') throw new Error(`${hostname()}: ${msg} (hint: ${e.hint})`);
    if (e instanceof NnunetError) throw new UnrecoverableError(`${msg}${e.hint ? ` (hint: ${e.hint})` : ''}`);
    throw e;
  }
  log(`[${job.id}] done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}

/**
 * Start a worker on the queue at `url`: it runs orchestrating steps and work jobs until closed. A worker killed
 * mid-job loses its lock after `lockDurationMs` (default 120 s); another worker's stalled-job check
 * (`stalledIntervalMs`, default 30 s) puts the job back in the queue and it resumes from what the run folder holds
 * (training from `checkpoint_latest`).
 */
export function startWorker(url: string, o: JobWorkerOptions): JobWorker {
  const a: QueueAddress = parseQueueUrl(url);
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  const conn = redisConnection(a);
  const queueConn = redisConnection(a);
  const queue = new Queue(a.queue, { connection: queueConn });
  queue.on('error', () => {}); // connection errors while Redis is away: ioredis reconnects
  let worker: Worker | undefined;
  return {
    ready: async () => {
      // Redis first: an unreachable one is one error naming the address (waitConnected), not a line per retry
      await waitConnected(conn, a);
      worker = createWorker(a, conn, queue, o, log);
      await worker.waitUntilReady();
      log(`worker ${hostname()}:${process.pid} serving queue '${a.queue}' at ${a.where} (concurrency ${o.concurrency ?? 1})`);
    },
    close: async (force = false) => {
      // the active job finishes first (unless forced); a Redis that is gone does not keep the process alive
      if (worker) await closeWithin([worker.close(force)], force ? 5000 : 24 * 3600_000);
      await closeWithin([queue.close()], 5000);
      conn.disconnect();
      queueConn.disconnect();
    },
  };
}

/**
 * The BullMQ worker of `startWorker`, on a connected `conn`. While Redis is away later (restarting) ioredis retries
 * every 0.1-2 s: the worker logs one line when the connection is lost (and again only when the error changes) and one
 * when it is back, not a line per retry.
 */
function createWorker(a: QueueAddress, conn: Redis, queue: Queue, o: JobWorkerOptions, log: (s: string) => void): Worker {
  const worker = new Worker(
    a.queue,
    async (job: Job, token?: string, signal?: AbortSignal) => {
      if (job.name === RUN_JOB) return orchestrate(job as Job<RunJobData>, token!, queue);
      return work(job as Job<WorkJobData>, o, log, signal);
    },
    {
      connection: conn,
      concurrency: o.concurrency ?? 1,
      lockDuration: o.lockDurationMs ?? 120_000,
      stalledInterval: o.stalledIntervalMs ?? 30_000,
      maxStalledCount: 3,
      autorun: true,
    },
  );
  let lost = '';
  worker.on('error', (e) => {
    if (e.message === lost) return;
    lost = e.message;
    log(`worker: ${e.message} (Redis at ${a.where}; reconnecting, jobs wait)`);
  });
  conn.on('ready', () => {
    if (lost) log(`worker: connected to Redis at ${a.where} again`);
    lost = '';
  });
  // a job whose lock could not be renewed (Redis restarted, or this process was too busy) may already run elsewhere
  worker.on('lockRenewalFailed', (ids) => {
    for (const id of ids) {
      log(`[${id}] lost its lock: stopping it here (the queue gives it to a worker)`);
      worker.cancelJob(id, 'lock lost');
    }
  });
  return worker;
}
