/** Worker side of the resampler pool (pool.ts): computes one z range of a shared job, then flags completion. */
import { parentPort } from 'node:worker_threads';
import { runZRange, type ZJob } from './volume.js';

parentPort?.on('message', (m: { job: ZJob; start: number; end: number; flags: Int32Array; slot: number }) => {
  try {
    runZRange(m.job, m.start, m.end);
  } catch {
    Atomics.store(m.flags, 2 * m.slot + 1, 1);
  }
  Atomics.store(m.flags, 2 * m.slot, 1);
  Atomics.notify(m.flags, 2 * m.slot);
});
