/** A resampling worker thread as the pool uses it. */
export interface ResampleWorker {
  postMessage(msg: unknown): void;
  onDeath(f: () => void): void;
}

/**
 * Browsers (`#resample-threads`, conditions `browser`/`default`): no worker threads (`Atomics.wait` is not allowed
 * on a page's main thread), so resampling runs on the calling thread. Always null.
 */
export function startResampleWorkers(_url: URL): ResampleWorker[] | null {
  return null;
}
