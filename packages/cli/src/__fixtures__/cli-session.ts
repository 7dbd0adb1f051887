/**
 * Shared setup of the CLI's user-session tests (fresh-tester.test.ts, tester-fixes.test.ts): the embedded example,
 * the shared nnU-Net v2 model folder, a temporary folder removed after the file's tests, and `runCli` with its
 * stdout and stderr collected.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { runCli } from '../program.js';

const HERE = dirname(fileURLToPath(import.meta.url));

/** The embedded Hippocampus example (examples/Task04_Hippocampus_subset) of the repository. */
export const EXAMPLE = join(HERE, '..', '..', '..', '..', 'examples', 'Task04_Hippocampus_subset');

/** The read-only shared material: NNUNET_SHARED, or `shared/` beside the repository. */
export const SHARED = process.env.NNUNET_SHARED ?? resolve(HERE, '..', '..', '..', '..', '..', 'shared');

/** A real nnU-Net v2 model folder (3d_fullres, trained by nnU-Net itself) of the shared material. */
export const NNUNET_MODEL = join(SHARED, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');

/** A new temporary folder named `<prefix>XXXXXX`, removed with its content after the calling test file's tests. */
export function sessionDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs the CLI in this process; returns its exit code and its stdout and stderr lines joined with newlines. */
export async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (s) => out.push(s) }, (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}
