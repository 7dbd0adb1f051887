/**
 * Compute threads of a worker's job processes when several `nnunet-ts worker`s share one machine.
 *
 * Each job process runs the cpu-native convolutions on its own thread pool, by default on every usable core
 * (nnU-Net: `torch.set_num_threads(cpu_count())` per process, nnunetv2/inference/predict_from_raw_data.py and
 * nnunetv2/run/run_training.py). Two workers on a 2-core machine would then run 4 compute threads on 2 cores. With
 * `--threads auto` (the default) every worker registers its job processes in a folder of the machine's temp dir,
 * and before each job a job process gets `floor(usable cores / job processes of live workers on this machine)`
 * threads (at least 1), so the workers share the cores and overlap their single-threaded parts (reading, export,
 * NIfTI compression) with each other's convolutions.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync, renameSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@nnunet-ts/core';

/** Folder where the live workers of this machine (this temp dir) register: one `<pid>.json` each. */
export const HOST_WORKERS_DIR = join(tmpdir(), 'nnunet-ts-workers');

/** A worker's registration: its job processes count toward the machine's share. */
export interface HostThreads {
  /** Compute threads for the next job of one job process (fixed `--threads n`, or this machine's share). */
  threads(): number;
  /** How the number was chosen, for the worker's log. */
  describe(): string;
  /** Remove the registration (the worker stops). */
  release(): void;
}

/**
 * Parse `--threads`: a positive integer, or `auto`.
 * @throws UsageError for anything else
 */
export function parseThreads(v: string | undefined): number | 'auto' {
  if (v === undefined || v === 'auto') return 'auto';
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--threads must be a positive integer or 'auto', got '${v}'`);
  return n;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Job processes of the live workers registered in `dir` (this process's included when registered); entries of
 * workers that died (SIGKILL) are removed.
 */
export function hostJobProcesses(dir = HOST_WORKERS_DIR): number {
  let n = 0;
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const pid = Number(/^(\d+)\.json$/.exec(name)?.[1]);
    if (!pid) continue;
    if (!alive(pid)) {
      rmSync(join(dir, name), { force: true });
      continue;
    }
    try {
      n += Math.max(1, Number((JSON.parse(readFileSync(join(dir, name), 'utf8')) as { jobProcesses?: number }).jobProcesses) || 1);
    } catch {
      n += 1; // being written: count it as one
    }
  }
  return n;
}

/**
 * Register this worker (`jobProcesses` = its `--concurrency`) and decide its job processes' compute threads:
 * `threads` as given, or with `auto` the machine's share `floor(cores / all registered job processes)`, at least 1,
 * read again at every call (a worker started or stopped later changes it). `cores` defaults to the usable cores
 * (`os.availableParallelism()`).
 */
export function registerHostWorker(jobProcesses: number, threads: number | 'auto', o: { dir?: string; cores?: number } = {}): HostThreads {
  const dir = o.dir ?? HOST_WORKERS_DIR;
  const cores = o.cores ?? availableParallelism();
  if (threads !== 'auto') return { threads: () => threads, describe: () => `${threads} compute thread(s) per job process (--threads)`, release: () => {} };
  const file = join(dir, `${process.pid}.json`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${file}.tmp`, JSON.stringify({ pid: process.pid, jobProcesses }));
  renameSync(`${file}.tmp`, file);
  const release = () => rmSync(file, { force: true });
  process.once('exit', release);
  const share = () => {
    const total = Math.max(jobProcesses, hostJobProcesses(dir));
    return { total, threads: Math.max(1, Math.floor(cores / total)) };
  };
  return {
    threads: () => share().threads,
    describe: () => {
      const s = share();
      return `${s.threads} compute thread(s) per job process (--threads auto: ${cores} core(s), ${s.total} job process(es) of the workers on this machine)`;
    },
    release,
  };
}
