import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

/** A resampling worker thread as the pool uses it. */
export interface ResampleWorker {
  postMessage(msg: unknown): void;
  /** Called once when the worker fails to load or exits. */
  onDeath(f: () => void): void;
}

/**
 * Node (`#resample-threads`, condition `node`): `threads - 1` worker threads running `url` (the compiled
 * `resample-worker.js`), or null when fewer than 2 threads are wanted (`NNUNET_TS_RESAMPLE_THREADS`, else the
 * available parallelism, at most 8) or the worker file is absent (TypeScript sources under vitest).
 */
export function startResampleWorkers(url: URL): ResampleWorker[] | null {
  const env = Number(process.env.NNUNET_TS_RESAMPLE_THREADS ?? '');
  const threads = Number.isInteger(env) && env > 0 ? env : Math.min(8, availableParallelism());
  if (threads < 2 || url.protocol !== 'file:' || !existsSync(fileURLToPath(url))) return null;
  return Array.from({ length: threads - 1 }, () => {
    const w = new Worker(url);
    w.unref();
    return {
      postMessage: (msg: unknown) => w.postMessage(msg),
      onDeath: (f: () => void) => {
        w.on('error', f);
        w.on('exit', f);
      },
    };
  });
}
