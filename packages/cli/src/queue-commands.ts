import { mkdirSync } from 'node:fs';
import { Command } from 'commander';
import {
  UsageError, checkRunRequest, clusterJobGraph, formatDuration, prepareRun, runStoredJobs, stage, startQueueWorker, writeSlurmScripts, type JobWorker, type RunSpec, type SbatchSettings,
} from '@nnunet-ts/core';
import { allowEmptyLabelsFlag, makeContext, type CommonOptions } from './context.js';
import type { Io } from './commands.js';
import { processExecutor } from './job-process.js';
import { parseThreads, registerHostWorker } from './host-threads.js';

const positiveInt = (name: string, v: string | undefined): number | undefined => {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--${name} must be a positive integer, got '${v}'`);
  return n;
};

/** Resolves on SIGINT or SIGTERM (the worker then finishes its active jobs and disconnects). */
const untilStopped = () => new Promise<string>((res) => {
  process.once('SIGINT', () => res('SIGINT'));
  process.once('SIGTERM', () => res('SIGTERM'));
});

/** `worker`: serve a job queue until stopped. */
export function addWorkerCommand(program: Command, common: (c: Command) => Command, io: Io): void {
  common(program.command('worker').description('run the jobs of queued runs (decathlon --queue) until stopped (Ctrl-C / SIGTERM: finish the active job, then exit)'))
    .requiredOption('--queue <url>', 'job queue, e.g. redis://HOST:6379 (BullMQ on Redis; ?queue=<name> picks another queue)')
    .option('--concurrency <n>', 'jobs this worker runs at once (one worker process per core or GPU is the usual setup)', '1')
    .option('--lock-duration <ms>', 'a job whose worker stopped renewing its lock this long (killed, lost) is taken over by another worker', '120000')
    .option('--stalled-interval <ms>', 'how often this worker looks for jobs of lost workers', '30000')
    .option('--threads <n|auto>', "compute threads per job process (convolutions, resampling); auto: this machine's usable cores shared by the job processes of the workers running on it (default; env NNUNET_NUM_THREADS fixes it too)")
    .action(async (o: CommonOptions & { queue: string; concurrency: string; lockDuration: string; stalledInterval: string; threads?: string }) => {
      const ctx = await makeContext(o);
      const backend = o.backend ?? (ctx.options.backend === 'auto' ? undefined : ctx.options.backend);
      const concurrency = positiveInt('concurrency', o.concurrency) ?? 1;
      const envThreads = Number(process.env.NNUNET_NUM_THREADS);
      // registered before the job processes start: workers started together see each other
      const host = registerHostWorker(concurrency, o.threads === undefined && Number.isInteger(envThreads) && envThreads > 0 ? envThreads : parseThreads(o.threads));
      // jobs run in a child process: this one stays responsive and keeps the queue's locks on its jobs renewed
      const execute = processExecutor({ plugins: [...new Set([...ctx.options.plugins, ...(o.plugin ?? [])])], backend }, () => host.threads());
      const opts = {
        execute,
        concurrency,
        lockDurationMs: positiveInt('lock-duration', o.lockDuration),
        stalledIntervalMs: positiveInt('stalled-interval', o.stalledInterval),
        backend,
        log: (s: string) => ctx.rep.log(s),
      };
      let w: JobWorker;
      try {
        // the job processes start (and load their plugins) before the worker takes a job: no job pays a process start
        const pids = await execute.warm(concurrency);
        ctx.rep.log(`worker: job process${pids.length > 1 ? 'es' : ''} ${pids.join(', ')} ready; ${host.describe()}`);
        w = await startQueueWorker(ctx.registry, o.queue, opts);
      } catch (e) {
        // job processes left running would keep this process alive
        host.release();
        await execute.close();
        throw e;
      }
      const signal = await untilStopped();
      io.out(`worker: ${signal}, finishing the active job(s) (signal again to abandon them: another worker takes them over)`);
      void untilStopped().then(async () => {
        await execute.close(2000);
        return w.close(true);
      });
      await w.close();
      host.release();
      await execute.close();
    });
}

/**
 * The `slurm` summary line of the budget the jobs carry (`<run>/jobs.json`): configurations, folds, epochs x
 * iterations per training task and, with a time budget, where it came from, the backend it was planned on and each
 * task's share of training time (`RunSpec.trainingSecondsPerTask`).
 */
export function budgetSummary(run: RunSpec, o: Pick<CommonOptions, 'timeBudget' | 'preset' | 'config'>, plannedOn?: string): string {
  const b = run.budget;
  const what = `${run.configurations.join(', ')}, fold(s) ${run.folds.join(', ')}: one array task per (configuration, fold), each training ${b.epochs} epochs x ${b.iterationsPerEpoch} iterations`;
  if (!b.timeBudgetSeconds) return `no time budget: nnU-Net's plans; ${what}`;
  const from = o.timeBudget !== undefined ? `--time-budget ${o.timeBudget}` : o.preset !== undefined ? `--preset ${o.preset}` : `--config ${o.config ?? ''}`.trim();
  return `time budget ${formatDuration(b.timeBudgetSeconds)} (${from}) for the whole run, planned on this machine${plannedOn ? ` (backend ${plannedOn})` : ''}: ${what}, ` +
    `and at most ${formatDuration(run.trainingSecondsPerTask ?? 0)} of training from the task's start (the budget's training time per fold)`;
}

/**
 * Seconds of an sbatch `--time` value in SLURM's forms: `M`, `M:S`, `H:M:S`, `D-H`, `D-H:M`, `D-H:M:S` (sbatch(1));
 * null for `UNLIMITED`/`INFINITE` or anything else (sbatch itself reports a bad value).
 */
export function slurmTimeSeconds(t: string): number | null {
  const m = /^(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?$/.exec(t.trim());
  if (!m) return null;
  const [d, a, b, c] = [m[1], m[2], m[3], m[4]].map((x) => (x === undefined ? undefined : Number(x)));
  if (d !== undefined) return d * 86400 + a! * 3600 + (b ?? 0) * 60 + (c ?? 0);
  if (c !== undefined) return a! * 3600 + b! * 60 + c;
  return a! * 60 + (b ?? 0);
}

/** `slurm`: sbatch scripts for a run (no queue needed); `job`: run listed jobs of a run (what the scripts call). */
export function addSlurmCommands(program: Command, common: (c: Command) => Command, budgetFlags: (c: Command) => Command, io: Io): void {
  allowEmptyLabelsFlag(budgetFlags(common(program.command('slurm <task>').description('prepare a run (validate, plan, splits) and write sbatch scripts: preprocessing, an array with one task per (configuration, fold), then find-best/predict/evaluate (afterok)'))))
    .requiredOption('-o, --out <dir>', 'run folder, on a file system every node sees')
    .option('--command <cmd>', 'how the nodes start nnunet-ts', 'nnunet-ts')
    .option('--partition <p>', 'sbatch --partition')
    .option('--account <a>', 'sbatch --account')
    .option('--time <t>', 'sbatch --time per task, e.g. 24:00:00')
    .option('--gpus <n>', 'GPUs per training/prediction task (--gpus-per-task)')
    .option('--cpus-per-task <n>', 'sbatch --cpus-per-task')
    .option('--mem <m>', 'sbatch --mem, e.g. 32G')
    .option('--sbatch <line>', 'extra #SBATCH line (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .option('--planner <name>', 'planner plugin (default nnUNetPlanner)')
    .option('--gpu-memory-gb <n>', 'GPU memory target in GB (default 8)')
    .action(async (task: string, o: CommonOptions & SbatchSettings & { out: string; command: string; gpus?: string; cpusPerTask?: string; sbatch?: string[]; allowEmptyLabels?: boolean }) => {
      const started = performance.now();
      const ctx = await makeContext(o);
      mkdirSync(o.out, { recursive: true });
      const opts = {
        task, out: o.out, registry: ctx.registry, budget: ctx.budget, rep: ctx.rep, backend: ctx.backend,
        planner: ctx.options.planner, gpuMemoryGb: ctx.options.gpuMemoryGb, allowEmptyLabels: o.allowEmptyLabels,
      };
      checkRunRequest(opts);
      // a time budget is planned here, on this machine's backend (as decathlon --queue does); the nodes keep to it
      const backend = ctx.budget.timeBudgetSeconds ? await stage(ctx.registry, 'selectDevice')(ctx.registry, ctx.backend, (l) => ctx.rep.log(l)) : undefined;
      const prepared = await prepareRun(opts, backend, false, started);
      const graph = clusterJobGraph(prepared.graph, prepared.plans.time_budget as Record<string, unknown> | undefined);
      const s = writeSlurmScripts(graph, o.command, {
        partition: o.partition, account: o.account, time: o.time, mem: o.mem, extra: o.sbatch,
        gpus: positiveInt('gpus', o.gpus), cpusPerTask: positiveInt('cpus-per-task', o.cpusPerTask),
      });
      io.out(`wrote ${s.scripts.length} sbatch scripts to ${s.dir}; submit them with: ${s.submit}`);
      io.out(budgetSummary(graph.run, o, backend?.info.name));
      const limit = o.time === undefined ? null : slurmTimeSeconds(o.time);
      const share = graph.run.trainingSecondsPerTask;
      if (limit !== null && share !== undefined && limit < share) {
        io.out(`warning: --time ${o.time} is shorter than each training task's ${formatDuration(share)} of training (and its validation after it): SLURM would stop the tasks before they end; give --time of at least ${formatDuration(share * 1.25)}`);
      }
    });

  common(program.command('job [ids...]').description("run jobs of a prepared run (<run>/jobs.json, from slurm or decathlon), by id (comma lists allowed), in the graph's order"))
    .requiredOption('-o, --out <dir>', 'run folder')
    .action(async (ids: string[], o: CommonOptions & { out: string }) => {
      const ctx = await makeContext(o);
      if (!ids.length) throw new UsageError('no job ids given', { hint: `the ids are listed in ${o.out}/jobs.json (e.g. pp.3d_fullres.<case>, train.3d_fullres.0, find-best)` });
      const n = await runStoredJobs({ out: o.out, ids, registry: ctx.registry, rep: ctx.rep, backend: o.backend ?? (ctx.options.backend === 'auto' ? undefined : ctx.options.backend) });
      io.out(`ran ${n} job(s)`);
    });
}
