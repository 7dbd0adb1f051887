/**
 * Publishability: scripts/pack-check.mjs packs every package (from the built dist/), installs the tarballs into an
 * empty project (third-party dependencies from the npm registry), imports each package there and exercises a few
 * real exports, runs `npx nnunet-ts --help`, typechecks a TypeScript consumer against the packed declarations, and
 * installs each package alone (with only its own @nnunet-ts dependency closure) and checks it again.
 * One run, shared by the assertions below (about a minute with a warm npm cache, 168 s in a CI run at load 4; a CI
 * run at load 17-21 took over 400 s, hence the 900 s limit).
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from './helpers/paths.js';

const PACKAGES = ['core', 'io-nifti', 'io-itk', 'backend-cpu', 'backend-tfjs', 'backend-webgpu', 'loss', 'augment', 'net-unet3d', 'net-unet2d', 'net-cascade', 'queue-bullmq', 'cli'];

interface PackageResult {
  ok: boolean;
  errors: string[];
  details?: Record<string, unknown>;
  help?: string;
}
interface Summary {
  ok: boolean;
  error?: string;
  failures: string[];
  nativeAddonPacked: boolean;
  packages: Record<string, PackageResult>;
  alone: Record<string, { ok: boolean; error?: string; installed: string[] }>;
  types: { ok: boolean; errors?: number; skipped?: string };
  seconds: number;
}

let summary: Summary;
let exitCode: number | null;
let stderr = '';

beforeAll(async () => {
  const script = join(REPO_ROOT, 'scripts', 'pack-check.mjs');
  let stdout = '';
  exitCode = await new Promise<number | null>((res, rej) => {
    const child = spawn(process.execPath, [script], { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', rej);
    child.on('close', (code) => res(code));
  });
  try {
    summary = JSON.parse(stdout) as Summary;
  } catch {
    throw new Error(`pack-check printed no JSON summary (exit ${exitCode}):\n${stderr.slice(-3000)}\n${stdout.slice(-2000)}`);
  }
}, 900_000);

describe('npm pack: every package installs from its tarball and works', () => {
  it('the check passes as a whole', () => {
    expect(summary.failures, stderr.slice(-3000)).toEqual([]);
    expect(summary.error).toBeUndefined();
    expect(summary.ok).toBe(true);
    expect(exitCode).toBe(0);
  });

  it.each(PACKAGES)('%s: packed, installed with all packages, imports and runs', (pkg) => {
    const r = summary.packages[pkg];
    expect(r, `no result for ${pkg}`).toBeDefined();
    expect(r!.errors).toEqual([]);
    expect(r!.ok).toBe(true);
  });

  it.each(PACKAGES)('%s: installs alone (own dependency closure only) and works', (pkg) => {
    const a = summary.alone[pkg];
    expect(a, `no alone result for ${pkg}`).toBeDefined();
    expect(a!.error).toBeUndefined();
    expect(a!.ok).toBe(true);
  });

  it('core registers nnUNetPlanner; io-nifti reads [1, z, y, x]; the cli bin runs', () => {
    expect(summary.packages.core!.details!.planners).toContain('nnUNetPlanner');
    const shape = summary.packages['io-nifti']!.details!.shape as number[];
    expect(shape).toHaveLength(4);
    expect(shape[0]).toBe(1);
    expect(summary.packages.cli!.help).toMatch(/nnunet-ts/);
    expect(summary.alone['io-nifti']!.installed.sort()).toEqual(['core', 'io-nifti']);
  });

  it('backend-cpu: auto picks cpu-native when the addon was packed, else cpu-js; conv3d matches the reference', () => {
    const d = summary.packages['backend-cpu']!.details as { chosen: string; results: Record<string, { maxErr: number }> };
    const packed = existsSync(join(REPO_ROOT, 'packages', 'backend-cpu', 'build', 'Release', 'nnunet_cpu.node'));
    expect(summary.nativeAddonPacked).toBe(packed);
    expect(d.chosen).toBe(packed ? 'cpu-native' : 'cpu-js');
    expect(d.results['cpu-js']!.maxErr).toBeLessThan(1e-4);
  });

  it('a TypeScript consumer typechecks against the packed declarations', () => {
    expect(summary.types.ok).toBe(true);
    expect(summary.types.errors ?? 0).toBe(0);
  });
});
