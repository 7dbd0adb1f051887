import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NnunetError, type JobExecutor, type JobSpec, type Reporter, type RunSpec } from '@nnunet-ts/core';

/** What the worker tells its job process once: the plugins and backend to build its registry with. */
export interface JobProcessInit {
  plugins: string[];
  backend?: string;
}

/** How many compute threads a job process uses for its next job (`host-threads.ts`); unset: its own default. */
export type ThreadsFor = () => number | undefined;

/** Messages from the job process (see job-child.ts). */
export type ChildMessage =
  | { type: 'ready' }
  | { type: 'log'; message: string }
  | { type: 'start'; label: string; total: number; value?: number }
  | { type: 'update'; value: number; status?: string }
  | { type: 'total'; total: number }
  | { type: 'stop' }
  | { type: 'done' }
  | { type: 'failed'; name: string; message: string; hint?: string; user: boolean };

/** Messages to the job process. */
export type ParentMessage = { type: 'init'; init: JobProcessInit } | { type: 'run'; job: JobSpec; run: RunSpec; threads?: number };

/**
 * Environment of a job process started for `threads` compute threads: the native convolution pool
 * (`NNUNET_NUM_THREADS`) and the resampling threads (`NNUNET_TS_RESAMPLE_THREADS`).
 */
export function threadEnv(threads: number | undefined, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return threads ? { ...env, NNUNET_NUM_THREADS: String(threads), NNUNET_TS_RESAMPLE_THREADS: String(threads) } : env;
}

const CHILD = fileURLToPath(new URL('./job-child.js', import.meta.url));

function relay(rep: Reporter, m: ChildMessage): void {
  if (m.type === 'log') rep.log(m.message);
  else if (m.type === 'start') rep.start(m.label, m.total, m.value);
  else if (m.type === 'update') rep.update(m.value, m.status);
  else if (m.type === 'total') rep.setTotal?.(m.total);
  else if (m.type === 'stop') rep.stop();
}

/** The error a job process reported, as the worker's queue needs it (user errors stay `NnunetError`s). */
function errorOf(m: Extract<ChildMessage, { type: 'failed' }>): Error {
  if (!m.user) return new Error(m.message);
  const e = new NnunetError(m.message, { hint: m.hint });
  e.name = m.name;
  return e;
}

/** A job executor running jobs in child processes (`processExecutor`). */
export interface ProcessExecutor extends JobExecutor {
  /**
   * Start `n` job processes now and wait until each has loaded its plugins (a worker calls it before it takes jobs,
   * so no job pays a process start: seconds, against tens of milliseconds for preprocessing a small case).
   * @returns the job processes' ids
   * @throws the error a job process reported while loading (an unknown plugin: NnunetError), or its exit
   */
  warm(n: number): Promise<number[]>;
  /** Terminate every job process; resolves when they have exited (at most `waitMs`, default 10 s). */
  close(waitMs?: number): Promise<void>;
}

/**
 * A job executor that runs each job in a long-lived child process (one job at a time; one child per concurrent job),
 * so that the worker's event loop stays free while a job computes: the queue's lock on the job is renewed on time
 * however long a training iteration blocks. The child keeps its caches between jobs (dataset, plans, loaded model),
 * exits when the worker dies (its IPC channel closes), and is killed when the job is aborted (lock lost). Children
 * are started by `warm` (or on demand, e.g. after an aborted job's child was killed).
 */
export function processExecutor(init: JobProcessInit, threadsFor: ThreadsFor = () => undefined): ProcessExecutor {
  const idle: ChildProcess[] = [];
  const all = new Set<ChildProcess>();
  const spawnChild = () => {
    const child = fork(CHILD, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced', env: threadEnv(threadsFor()) });
    child.send({ type: 'init', init } satisfies ParentMessage);
    all.add(child);
    child.once('exit', () => all.delete(child));
    return child;
  };
  const startChild = () =>
    new Promise<ChildProcess>((resolve, reject) => {
      const child = spawnChild();
      const finish = (err?: Error) => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        if (err) reject(err);
        else resolve(child);
      };
      const onMessage = (m: ChildMessage) => {
        if (m.type === 'ready') finish();
        else if (m.type === 'failed') {
          child.kill('SIGTERM');
          finish(errorOf(m));
        }
      };
      const onExit = (code: number | null, sig: string | null) => finish(new Error(`the job process exited (${sig ?? `code ${code}`}) while loading its plugins`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const execute = (job: JobSpec, run: RunSpec, rep: Reporter, signal?: AbortSignal): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const child = idle.pop() ?? spawnChild();
      const finish = (err?: Error) => {
        child.off('message', onMessage);
        child.off('exit', onExit);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onMessage = (m: ChildMessage) => {
        if (m.type === 'done') {
          idle.push(child);
          finish();
        } else if (m.type === 'failed') {
          idle.push(child);
          finish(errorOf(m));
        } else relay(rep, m);
      };
      const onExit = (code: number | null, sig: string | null) => finish(new Error(`the job process exited (${sig ?? `code ${code}`}) while running ${job.id}`));
      const onAbort = () => {
        child.kill('SIGKILL');
        finish(new Error(`job ${job.id} aborted on this worker: ${String(signal?.reason ?? 'lock lost')}`));
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
      signal?.addEventListener('abort', onAbort, { once: true });
      child.send({ type: 'run', job, run, threads: threadsFor() } satisfies ParentMessage);
    });
  return Object.assign(execute, {
    async warm(n: number) {
      const started = await Promise.all(Array.from({ length: n }, startChild));
      idle.push(...started);
      return started.map((c) => c.pid!);
    },
    async close(waitMs = 10_000) {
      // waited for: a job process outliving its worker would hold memory and cores (and its CPU time would not be
      // counted to the worker's parent)
      const exited = [...all].map((c) => new Promise<void>((res) => (c.exitCode !== null || c.signalCode !== null ? res() : c.once('exit', () => res()))));
      for (const c of all) c.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(exited), new Promise<void>((res) => (timer = setTimeout(res, waitMs)))]);
      clearTimeout(timer);
    },
  });
}
