import { startResampleWorkers, type ResampleWorker } from '#resample-threads';
import type { ZJob } from './volume.js';

/**
 * Optional multi-threading of the resampler: output z planes are split into contiguous ranges, one per thread
 * (the calling thread takes the first), over SharedArrayBuffer-backed source planes and output. The API stays
 * synchronous: the caller blocks in `Atomics.wait` until the workers are done (allowed on Node's main thread).
 *
 * Used only when the compiled worker file (`resample-worker.js`) sits beside this module (package build, not the
 * TypeScript sources under vitest) and `NNUNET_TS_RESAMPLE_THREADS` is not `1`. Results are bit-identical to the
 * single-threaded path (same code per plane). Threads: `NNUNET_TS_RESAMPLE_THREADS` or the available parallelism
 * (at most 8). The workers come from `#resample-threads` (Node: `worker_threads`; browsers: none, single thread).
 */

/** Channels smaller than this many output voxels run on the calling thread only. */
export const PARALLEL_MIN_VOXELS = 1 << 20;
/** Channels whose input + output exceed this many voxels (256 MiB of float32) run on the calling thread only. */
export const PARALLEL_MAX_VOXELS = 1 << 26;

/** True when the array's memory can be shared with worker threads. */
export function isShared(a: Float32Array): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && a.buffer instanceof SharedArrayBuffer;
}

/** Copy into SharedArrayBuffer-backed memory. */
export function toShared(a: Float32Array): Float32Array {
  const out = new Float32Array(new SharedArrayBuffer(a.length * 4));
  out.set(a);
  return out;
}

/**
 * A zero-filled float32 array, SharedArrayBuffer-backed when the resampler may run it threaded (so it can be
 * resampled in place without a shared copy).
 */
export function allocFloat32(n: number): Float32Array {
  return n <= PARALLEL_MAX_VOXELS && resamplePool() ? new Float32Array(new SharedArrayBuffer(n * 4)) : new Float32Array(n);
}

interface Pool {
  run(job: ZJob): void;
}

let pool: Pool | null | undefined;

/** The process-wide pool, or null when threading is unavailable or disabled. */
export function resamplePool(): Pool | null {
  if (pool !== undefined) return pool;
  pool = null;
  const workers: ResampleWorker[] | null = startResampleWorkers(new URL('./resample-worker.js', import.meta.url));
  if (!workers) return pool;
  const dead: boolean[] = [];
  // A worker that fails to load or dies is retired; its share is then computed on the calling thread.
  workers.forEach((w, i) => w.onDeath(() => (dead[i] = true)));
  pool = {
    run(job: ZJob) {
      if (dead.some(Boolean)) {
        runZRange(job, 0, job.Zo);
        return;
      }
      const n = workers.length + 1;
      const bounds = Array.from({ length: n + 1 }, (_, i) => Math.round((i * job.Zo) / n));
      const flags = new Int32Array(new SharedArrayBuffer(8 * workers.length));
      workers.forEach((w, i) => w.postMessage({ job, start: bounds[i + 1], end: bounds[i + 2], flags, slot: i }));
      runZRange(job, bounds[0]!, bounds[1]!);
      for (let i = 0; i < workers.length; i++) {
        // 'error'/'exit' events cannot fire while this thread blocks, so give up on a silent worker after 60 s
        const t0 = Date.now();
        while (Atomics.load(flags, 2 * i) === 0 && Date.now() - t0 < 60_000) Atomics.wait(flags, 2 * i, 0, 100);
        // a worker that failed or timed out: redo its range here
        if (Atomics.load(flags, 2 * i) === 0 || Atomics.load(flags, 2 * i + 1) !== 0) {
          if (Atomics.load(flags, 2 * i) === 0) dead[i] = true;
          runZRange(job, bounds[i + 1]!, bounds[i + 2]!);
        }
      }
    },
  };
  return pool;
}

// Late-bound to avoid a static import cycle with volume.ts.
let runZRange: (job: ZJob, a: number, b: number) => void = () => {
  throw new Error('resample pool used before volume.ts registered runZRange');
};
/** @internal called by volume.ts */
export function bindRunZRange(f: (job: ZJob, a: number, b: number) => void): void {
  runZRange = f;
}
