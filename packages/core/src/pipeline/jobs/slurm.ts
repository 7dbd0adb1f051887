import { chmodSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JobGraph, JobSpec } from '../../contracts/jobs.js';
import { writeFileAtomicSync } from '../../evaluation/summary.js';
import { readJson, writeJson } from '../json-io.js';
import { runLayout } from '../layout.js';
import { DataError } from '../../util/errors.js';
import { formatDuration } from '../../costmodel/estimate.js';
import { trainingSecondsPerTask } from '../budget-stage.js';

/** `sbatch` settings shared by every script (each one optional; `extra` lines are written as `#SBATCH <line>`). */
export interface SbatchSettings {
  partition?: string;
  account?: string;
  /** Wall-time limit (`--time`, e.g. `24:00:00`). */
  time?: string;
  /** GPUs per training task (`--gpus-per-task`). */
  gpus?: number;
  cpusPerTask?: number;
  /** Memory per task (`--mem`, e.g. `32G`). */
  mem?: string;
  extra?: string[];
}

/** What `writeSlurmScripts` wrote. */
export interface SlurmScripts {
  dir: string;
  /** `submit.sh`: submits every script with its `afterok` dependency, in order. */
  submit: string;
  /** The sbatch scripts, in submission order (preprocess, one array per training depth, final). */
  scripts: string[];
}

/** The file holding a run's job graph, read by `nnunet-ts job` (`<run>/jobs.json`). */
export function jobGraphFile(out: string): string {
  return join(runLayout(out).root, 'jobs.json');
}

/** Write a run's job graph to `<run>/jobs.json` (atomic). */
export function writeJobGraph(graph: JobGraph): string {
  const file = jobGraphFile(graph.run.out);
  writeJson(file, graph);
  return file;
}

/** A run's job graph from `<run>/jobs.json`. @throws DataError naming the file and the verb that writes it */
export function readJobGraph(out: string): JobGraph {
  const file = jobGraphFile(out);
  try {
    return readJson<JobGraph>(file);
  } catch (e) {
    throw new DataError(`no job graph in this run folder (${(e as Error).message})`, { file, hint: 'write it first: nnunet-ts slurm <task> -o <run> (or submit the run with decathlon --queue)' });
  }
}

/** A path for an `#SBATCH` directive: double-quoted when it holds whitespace or quotes (sbatch splits directives at spaces). */
export function sbatchPath(p: string): string {
  return /[\s"'\\]/.test(p) ? `"${p.replace(/(["\\])/g, '\\$1')}"` : p;
}

function header(name: string, logs: string, s: SbatchSettings, o: { array?: number; gpus: boolean }): string[] {
  const lines = ['#!/bin/bash', `#SBATCH --job-name=${name}`, `#SBATCH --output=${sbatchPath(join(logs, o.array ? '%x_%A_%a.out' : '%x_%j.out'))}`];
  if (o.array) lines.push(`#SBATCH --array=0-${o.array - 1}`);
  if (s.partition) lines.push(`#SBATCH --partition=${s.partition}`);
  if (s.account) lines.push(`#SBATCH --account=${s.account}`);
  if (s.time) lines.push(`#SBATCH --time=${s.time}`);
  if (s.cpusPerTask) lines.push(`#SBATCH --cpus-per-task=${s.cpusPerTask}`);
  if (s.mem) lines.push(`#SBATCH --mem=${s.mem}`);
  if (o.gpus && s.gpus) lines.push(`#SBATCH --gpus-per-task=${s.gpus}`);
  for (const e of s.extra ?? []) lines.push(`#SBATCH ${e}`);
  lines.push('set -euo pipefail');
  return lines;
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * The job graph of a run prepared for a cluster (`prepareRun`), with a time budget made to hold there: the wall-clock
 * `trainingEndsAt` of a run on one machine is replaced by `trainingSecondsPerTask` (each training task's share, counted
 * from its own start: `trainingSecondsPerTask` of the budget stage) from the plans' `time_budget` record. Unchanged
 * without a time budget.
 * @param timeBudget the plans' `time_budget` record (`decisionRecord`), undefined without a budget
 */
export function clusterJobGraph(graph: JobGraph, timeBudget: Record<string, unknown> | undefined): JobGraph {
  const perTask = trainingSecondsPerTask(timeBudget, graph.run.folds.length);
  if (perTask === null || !graph.run.budget.timeBudgetSeconds) return graph;
  const { trainingEndsAt: _wallClock, ...run } = graph.run;
  return { ...graph, run: { ...run, trainingSecondsPerTask: Math.round(perTask) } };
}

/** Comment lines of a training array script: what each task trains, and its share of a time budget. */
function trainingComment(graph: JobGraph): string[] {
  const { budget, trainingSecondsPerTask: share } = graph.run;
  const lines = [`# each task trains its fold ${budget.epochs} epochs x ${budget.iterationsPerEpoch} iterations (the run's budget, in ${jobGraphFile(graph.run.out)})`];
  if (budget.timeBudgetSeconds) {
    lines.push(`# time budget ${formatDuration(budget.timeBudgetSeconds)} for the whole run: each task trains at most ${formatDuration(share ?? 0)} from its own start (the budget's training time per fold)`);
  }
  return lines;
}

/**
 * SLURM scripts for a run without a job queue (nnU-Net users' usual cluster setup, one job per configuration and
 * fold), in `<run>/slurm/`: `preprocess.sbatch` (every preprocessing job), `train_<d>.sbatch` per training depth
 * (an array, one task per (configuration, fold): training, then that fold's validation; the cascade is depth 1),
 * `final.sbatch` (find-best + postprocessing, test-set prediction, evaluation) and `submit.sh`, which submits them
 * in order, each with `--dependency=afterok:<previous>`. Every task runs `<command> job -o <run> <job ids>`
 * (`command`: how the cluster nodes start nnunet-ts) on the graph in `<run>/jobs.json`, which carries the budget
 * (a time budget as `trainingSecondsPerTask`: pass the graph through `clusterJobGraph` first).
 */
export function writeSlurmScripts(graph: JobGraph, command: string, settings: SbatchSettings = {}): SlurmScripts {
  const out = graph.run.out;
  const dir = join(runLayout(out).root, 'slurm');
  const logs = join(dir, 'logs');
  mkdirSync(logs, { recursive: true });
  writeJobGraph(graph);
  const key = graph.runKey.slice(0, 8);
  const run = (ids: string) => `${command} job -o ${q(out)} ${ids}`;
  const ofKind = (...k: JobSpec['kind'][]) => graph.waves.flat().filter((j) => k.includes(j.kind)).map((j) => j.id);
  const scripts: { file: string; text: string[] }[] = [];
  scripts.push({ file: 'preprocess.sbatch', text: [...header(`nnunet-pp-${key}`, logs, settings, { gpus: false }), run(ofKind('preprocess').join(','))] });
  const trainWaves = graph.waves.filter((w) => w[0]?.kind === 'train');
  for (const [d, wave] of trainWaves.entries()) {
    const tasks = wave.map((j) => `${j.id},val.${j.id.slice('train.'.length)}`);
    const text = [...header(`nnunet-train${d}-${key}`, logs, settings, { array: tasks.length, gpus: true }), '# one task per (configuration, fold): train, then validate', ...trainingComment(graph)];
    text.push(`JOBS=(${tasks.join(' ')})`, run('"${JOBS[$SLURM_ARRAY_TASK_ID]}"'));
    scripts.push({ file: `train_${d}.sbatch`, text });
  }
  scripts.push({ file: 'final.sbatch', text: [...header(`nnunet-final-${key}`, logs, settings, { gpus: true }), run(ofKind('find-best', 'predict', 'evaluate').join(','))] });
  const submit = ['#!/bin/bash', '# submits the run: each job starts after the previous one (every task of an array) succeeded', 'set -euo pipefail', 'cd "$(dirname "$0")"'];
  let prev = '';
  for (const [i, s] of scripts.entries()) {
    writeFileAtomicSync(join(dir, s.file), s.text.join('\n') + '\n');
    const v = `J${i}`;
    submit.push(`${v}=$(sbatch --parsable${prev ? ` --dependency=afterok:$${prev}` : ''} ${s.file})`, `echo "${s.file}: job $${v}"`);
    prev = v;
  }
  const submitFile = join(dir, 'submit.sh');
  writeFileAtomicSync(submitFile, submit.join('\n') + '\n');
  chmodSync(submitFile, 0o755);
  return { dir, submit: submitFile, scripts: scripts.map((s) => join(dir, s.file)) };
}

/**
 * The jobs of a graph named by `ids` (each entry a job id or a comma-separated list), in graph order.
 * @throws DataError naming unknown ids and the file
 */
export function selectJobs(graph: JobGraph, ids: string[]): JobGraph {
  const want = new Set(ids.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean));
  const all = graph.waves.flat().map((j) => j.id);
  const unknown = [...want].filter((id) => !all.includes(id));
  if (unknown.length) throw new DataError(`unknown job id(s): ${unknown.join(', ')}`, { file: jobGraphFile(graph.run.out), hint: `jobs of this run: ${all.slice(0, 12).join(', ')}${all.length > 12 ? ', ...' : ''}` });
  return { ...graph, waves: graph.waves.map((w) => w.filter((j) => want.has(j.id))).filter((w) => w.length) };
}
