/**
 * Kill harness: run a CLI verb as its own process, SIGKILL it at a chosen moment, check that nothing partial is
 * visible under a final name, run the same command again, and compare the final outputs with an uninterrupted run.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import * as core from '@nnunet-ts/core';
import { readNifti } from '@nnunet-ts/io-nifti';

const BIN = resolve('packages/cli/dist/bin.js');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  ms: number;
  stderr: string;
}

/** Run `nnunet-ts <args>`; with `killAfterMs`, SIGKILL it after that many milliseconds (if still running). */
export function runCliProcess(args: string[], killAfterMs?: number): Promise<RunResult> {
  return new Promise((res) => {
    const t0 = performance.now();
    const p = spawn(process.execPath, [BIN, ...args, '-q'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NNUNET_SHARED: process.env.NNUNET_SHARED ?? '' } });
    let stderr = '';
    p.stderr!.on('data', (d) => (stderr += String(d)));
    const timer = killAfterMs === undefined ? null : setTimeout(() => p.kill('SIGKILL'), killAfterMs);
    p.on('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      res({ code, signal, ms: performance.now() - t0, stderr });
    });
  });
}

/** Every plain file below `dir` (relative paths, sorted). */
export function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  if (existsSync(dir)) walk(dir);
  return out.sort();
}

/**
 * Files whose content legitimately differs between two runs (wall-clock times), not compared bitwise. nnU-Net's
 * `training_log_<start time>.txt` is named after the time a run (or a resumed run) started, and `progress.png`
 * plots epoch durations.
 */
export const NONDETERMINISTIC = [
  /estimates\.json$/, /progress\.json$/, /progress\.svg$/, /progress\.png$/, /training_log_[\d_]+\.txt$/, /debug\.json$/, /checkpoint_\w+\.json$/, /run\.json$/, /\.log$/,
];

const isTemp = (rel: string): boolean => core.isTempName(rel.split('/').pop()!) || rel.endsWith(core.LOCK_FILE) || rel.endsWith(`${core.LOCK_FILE}.takeover`);

/**
 * Outputs of training that differ between two uninterrupted runs with the same seed on the default (auto) backend:
 * the weights and what is computed from them (measured: threaded kernels do not fix the floating-point reduction
 * order). They are compared by presence, not bytes; `trainingProblems` checks their content instead.
 */
export const TRAINING_WEIGHTS = [/checkpoint_\w+\.bin$/, /crossval_summary\.json$/, /validation\/summary\.json$/, /validation\/.*\.(nii\.gz|npz|bin)$/];

/** sha256 of every final-named file below `dir`; files matching `presenceOnly` map to 'present'. */
export function snapshot(dir: string, presenceOnly: RegExp[] = []): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of listTree(dir)) {
    if (isTemp(rel) || NONDETERMINISTIC.some((r) => r.test(rel))) continue;
    out[rel] = presenceOnly.some((r) => r.test(rel)) ? 'present' : createHash('sha256').update(readFileSync(join(dir, rel))).digest('hex');
  }
  return out;
}

/** A resumed training must have run every epoch exactly once: final checkpoint at num_epochs, one log entry per epoch. */
export async function trainingProblems(modelDir: string, epochs: number): Promise<string[]> {
  const out: string[] = [];
  const ck = await core.loadCheckpoint(join(modelDir, 'fold_0'), 'final');
  if (ck.meta.current_epoch !== epochs) out.push(`final checkpoint at epoch ${ck.meta.current_epoch}, expected ${epochs}`);
  const l = ck.meta.logging;
  for (const k of ['train_losses', 'val_losses', 'lrs', 'epoch_start_timestamps'] as const) {
    if (l[k].length !== epochs) out.push(`logging.${k} has ${l[k].length} entries for ${epochs} epochs`);
  }
  if (l.train_losses.some((v) => !Number.isFinite(v))) out.push('a training loss is not finite');
  return out;
}

/**
 * Every file under a final name below `dir` must be complete: JSON parses, NIfTI reads, preprocessed cases and
 * checkpoints pass their checksums. Returns the problems (empty when everything visible is whole).
 */
export async function partialFiles(dir: string): Promise<string[]> {
  const problems: string[] = [];
  for (const rel of listTree(dir)) {
    if (isTemp(rel)) continue;
    const p = join(dir, rel);
    try {
      if (rel.endsWith('.json')) core.readJson(p);
      else if (rel.endsWith('.nii.gz') || rel.endsWith('.nii')) await readNifti(p);
      else if (rel.endsWith(core.CASE_FILE_SUFFIX)) await core.readPreprocessedCase(join(p, '..'), rel.split('/').pop()!.slice(0, -core.CASE_FILE_SUFFIX.length));
      else if (/checkpoint_\w+\.bin$/.test(rel)) {
        const kind = /checkpoint_(\w+)\.bin$/.exec(rel)![1]!;
        if (existsSync(join(p, '..', `checkpoint_${kind}.json`))) await core.loadCheckpoint(join(p, '..'), kind);
      }
    } catch (e) {
      problems.push(`${rel}: ${(e as Error).message.slice(0, 200)}`);
    }
  }
  return problems;
}

/** Differences between two snapshots (missing, extra, changed files). */
export function diffSnapshots(want: Record<string, string>, got: Record<string, string>): string[] {
  const out: string[] = [];
  for (const k of Object.keys(want)) if (!(k in got)) out.push(`missing ${k}`);
  for (const k of Object.keys(got)) if (!(k in want)) out.push(`extra ${k}`);
  for (const k of Object.keys(want)) if (k in got && got[k] !== want[k]) out.push(`differs ${k}`);
  return out;
}
