import type { JobEvent, JobExecutor, JobQueuePlugin, JobWorker, JobWorkerOptions } from '../../contracts/jobs.js';
import type { Registry } from '../../registry/registry.js';
import { NnunetError, PluginError } from '../../util/errors.js';
import type { Reporter } from '../progress.js';
import { stage } from '../stages.js';
import { createJobExecutor } from './execute.js';
import { InProcessRunner } from './in-process.js';
import { readJobGraph, selectJobs } from './slurm.js';

/**
 * The job-queue plugin serving `url`'s scheme (`redis://` -> `@nnunet-ts/queue-bullmq`).
 * @throws PluginError naming the scheme and the registered queues
 */
export function jobQueueFor(registry: Registry, url: string): JobQueuePlugin {
  const scheme = /^[a-z][a-z0-9+.-]*:/i.exec(url)?.[0]?.toLowerCase();
  const all = registry.all('jobQueue');
  const q = all.find((p) => scheme && p.protocols.includes(scheme));
  if (!q) {
    const known = all.flatMap((p) => p.protocols.map((s) => `${s}// (${p.name})`));
    throw new PluginError(`no job queue serves '${url}'`, { hint: known.length ? `queues: ${known.join(', ')}; e.g. --queue redis://HOST:6379` : 'register a job-queue plugin (@nnunet-ts/queue-bullmq)' });
  }
  return q;
}

/**
 * Options of `startQueueWorker`: the worker's own backend (default: each run's), queue settings, and optionally the
 * executor (default: `createJobExecutor` in this process).
 */
export interface QueueWorkerOptions extends Omit<JobWorkerOptions, 'execute'> {
  backend?: string;
  execute?: JobExecutor;
}

/**
 * Start a worker serving the queue at `url` with this registry's plugins: it runs jobs (core's `createJobExecutor`)
 * until closed.
 * @throws PluginError when no job queue serves the URL
 */
export async function startQueueWorker(registry: Registry, url: string, o: QueueWorkerOptions = {}): Promise<JobWorker> {
  const q = jobQueueFor(registry, url);
  const log = o.log ?? ((s: string) => process.stderr.write(s + '\n'));
  if (o.concurrency !== undefined && !(Number.isInteger(o.concurrency) && o.concurrency >= 1)) throw new NnunetError(`--concurrency must be a positive integer, got ${o.concurrency}`);
  const execute = o.execute ?? createJobExecutor({ registry, backend: o.backend, log });
  const w = q.worker(url, { ...o, execute, log });
  try {
    await w.ready();
  } catch (e) {
    // a queue that cannot be reached: close the worker's connections, or their retries keep the process alive
    await w.close(true);
    throw e;
  }
  return w;
}

/**
 * Run jobs of a run's stored graph (`<out>/jobs.json`, written by `prepareRun` / `writeSlurmScripts`) in this
 * process: the listed ids (comma-separated lists allowed), in graph order. Used by the SLURM scripts.
 * @throws DataError for an unknown id or a run folder without a graph; the first failing job's error
 */
export async function runStoredJobs(o: { out: string; ids: string[]; registry: Registry; rep: Reporter; backend?: string }): Promise<number> {
  const graph = selectJobs(readJobGraph(o.out), o.ids);
  const backend = await stage(o.registry, 'selectDevice')(o.registry, o.backend ?? graph.run.backend, (s) => o.rep.log(s));
  await new InProcessRunner(createJobExecutor({ registry: o.registry, backend }), o.rep).run(graph);
  return graph.waves.flat().length;
}

/** One line for a job event: `[done/total] <state> <job id> <message>`. */
export function formatJobEvent(e: JobEvent): string {
  const count = e.total ? `[${e.done ?? 0}/${e.total}] ` : '';
  const msg = e.message ? `: ${e.message}` : '';
  return `${count}${e.state} ${e.job.id}${msg}`;
}
