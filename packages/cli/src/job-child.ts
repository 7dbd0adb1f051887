/**
 * The job process of `nnunet-ts worker` (forked by job-process.ts): builds a registry with the worker's plugins,
 * then runs the jobs it is sent with core's `createJobExecutor`, reporting over IPC. Exits when the worker goes.
 */
import { loadAddon } from '@nnunet-ts/backend-cpu';
import { NnunetError, createJobExecutor, fileSystemError, prepareJobProcess, type JobExecutor, type Reporter } from '@nnunet-ts/core';
import type { ChildMessage, ParentMessage } from './job-process.js';
import { createDefaultRegistry, loadPlugins } from './registry-setup.js';

const send = (m: ChildMessage) => process.send?.(m);

const reporter: Reporter = {
  log: (message) => send({ type: 'log', message }),
  start: (label, total, value) => send({ type: 'start', label, total, value }),
  update: (value, status) => send({ type: 'update', value, status }),
  setTotal: (total) => send({ type: 'total', total }),
  stop: () => send({ type: 'stop' }),
};

let executor: Promise<JobExecutor> | undefined;

/**
 * Use `n` compute threads from the next job on (the worker's `--threads`, or this machine's share with `auto`):
 * the native convolution pool is resized (between jobs, so no convolution runs); resampling threads not yet started
 * take the environment's number.
 */
function setThreads(n: number | undefined): void {
  if (!n || process.env.NNUNET_NUM_THREADS === String(n)) return;
  process.env.NNUNET_NUM_THREADS = String(n);
  process.env.NNUNET_TS_RESAMPLE_THREADS = String(n);
  loadAddon()?.setThreads(n);
  send({ type: 'log', message: `job process ${process.pid}: ${n} compute thread(s) from now on` });
}

/** A failure as the worker's queue needs it: user errors (NnunetError) keep message and hint, others their stack. */
function failure(caught: unknown): ChildMessage {
  const e = fileSystemError(caught);
  const user = e instanceof NnunetError;
  return { type: 'failed', name: (e as Error)?.name ?? 'Error', message: user ? e.message : ((e as Error)?.stack ?? String(e)), hint: user ? e.hint : undefined, user };
}

process.on('disconnect', () => process.exit(0));
process.on('message', (m: ParentMessage) => {
  if (m.type === 'init') {
    executor = (async () => {
      const registry = createDefaultRegistry();
      await loadPlugins(registry, m.init.plugins);
      prepareJobProcess();
      return createJobExecutor({ registry, backend: m.init.backend, log: (message) => send({ type: 'log', message }) });
    })();
    // loaded: the worker may give jobs (a job sent before then waits for the executor)
    executor.then(() => send({ type: 'ready' }), (e: unknown) => send(failure(e)));
    return;
  }
  void (async () => {
    try {
      setThreads(m.threads);
      await (await executor!)(m.job, m.run, reporter);
      send({ type: 'done' });
    } catch (e) {
      send(failure(e));
    }
  })();
});
