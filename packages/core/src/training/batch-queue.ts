import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { unpackBatch, type BatchRequest, type BatchWorkerSetup } from './batches.js';
import type { HostBatch } from './train-step.js';

/**
 * Default number of data-loading workers: nnU-Net's `nnUNet_n_proc_DA` environment variable when set (0: load and
 * augment on the training thread), else one less than the usable cores, at least 1 and at most 12 (nnU-Net's
 * default `get_allowed_n_proc_DA`). Throws `Error` for a value that is not a non-negative integer.
 */
export function defaultDataWorkers(env: NodeJS.ProcessEnv = process.env): number {
  const v = env.nnUNet_n_proc_DA;
  if (v !== undefined && v !== '') {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new Error(`nnUNet_n_proc_DA='${v}' is not a number of workers (0 = load batches on the training thread)`);
    return n;
  }
  return Math.min(12, Math.max(1, availableParallelism() - 1));
}

/** The built worker entry: next to this module in `dist`, or the `dist` twin of a `src` module run from source. */
function workerFile(): string {
  const here = fileURLToPath(new URL('./batch-worker.js', import.meta.url));
  if (existsSync(here)) return here;
  const built = here.replace(/([\\/])src([\\/])training([\\/])batch-worker\.js$/, '$1dist$2training$3batch-worker.js');
  if (existsSync(built)) return built;
  throw new Error(`data-loading worker ${here} not found; build @nnunet-ts/core (npm run build) or set nnUNet_n_proc_DA=0`);
}

/** Node options for the workers: the parent's, without `--conditions` (a `source` condition would load .ts files). */
function workerExecArgv(): string[] {
  const out: string[] = [];
  const a = process.execArgv;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '--conditions' || a[i] === '-C') i++;
    else if (!a[i]!.startsWith('--conditions=')) out.push(a[i]!);
  }
  return out;
}

const key = (r: BatchRequest): string => `${r.phase}:${r.epoch}:${r.iteration}`;

/**
 * Batches for the training loop, made on the training thread (`workers` 0) or by a pool of worker threads
 * (Piscina) that run ahead of the loop: `get` returns the asked batch and queues the next `prefetch` ones, as
 * nnU-Net's background augmenter keeps batches cached ahead of the GPU. A batch's content depends only on its
 * request (`batchSeed`), so every worker count gives the same batches. `close` stops the workers.
 */
export class BatchQueue {
  private readonly pending = new Map<string, Promise<HostBatch>>();
  private readonly pool: Piscina | null;

  /**
   * @param local makes a batch on this thread (used when `workers` is 0).
   * @param workers worker threads (0: none).
   * @param setup what the workers build their loaders and augmentation from (required when `workers` > 0).
   * @param prefetch batches queued ahead of the one asked for (default 2 per worker).
   */
  constructor(private readonly local: (r: BatchRequest) => Promise<HostBatch>, readonly workers: number, setup: BatchWorkerSetup | null, private readonly prefetch = 2 * workers) {
    if (workers > 0 && !setup) throw new Error('BatchQueue: workers need a setup');
    this.pool = workers > 0 ? new Piscina({ filename: workerFile(), workerData: setup, minThreads: workers, maxThreads: workers, execArgv: workerExecArgv(), idleTimeout: 60_000 }) : null;
  }

  /** The batch `r`; `upcoming` lists the batches the loop will ask for next (the first `prefetch` are queued now). */
  get(r: BatchRequest, upcoming: BatchRequest[] = []): Promise<HostBatch> {
    if (!this.pool) return this.local(r);
    const p = this.schedule(r);
    this.pending.delete(key(r));
    for (const u of upcoming.slice(0, this.prefetch)) this.schedule(u);
    return p;
  }

  private schedule(r: BatchRequest): Promise<HostBatch> {
    const k = key(r);
    let p = this.pending.get(k);
    if (!p) {
      p = (this.pool!.run(r) as Promise<ArrayBuffer>).then(unpackBatch);
      p.catch(() => {}); // a prefetched batch nobody asks for (closed queue) must not be an unhandled rejection
      this.pending.set(k, p);
    }
    return p;
  }

  /** Stops the workers (queued batches are dropped). */
  async close(): Promise<void> {
    this.pending.clear();
    await this.pool?.destroy();
  }
}

/** The next `n` requests of a phase after `r` within an epoch of `iterations`. */
export function upcomingBatches(r: BatchRequest, iterations: number, n: number): BatchRequest[] {
  const out: BatchRequest[] = [];
  for (let i = r.iteration + 1; i < Math.min(iterations, r.iteration + 1 + n); i++) out.push({ ...r, iteration: i });
  return out;
}
