/**
 * Output-folder lock (two runs on one folder), disk full and read-only output folders (docs/FAULTS.md,
 * "Interruptions and output folders"). Disk-full and read-only cases mount a small tmpfs; they need root (CI runs
 * as root) and are skipped elsewhere.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, tempDir } from '../bad-inputs/generate.js';
import { cli, core, ioNifti } from '../bad-inputs/harness.js';

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts.splice(0)) spawnSync('umount', ['-l', m]);
  cleanupTemp();
});

/** Mount a tmpfs of `kib` KiB at a fresh folder (read-only when `ro`); null when mounting is not allowed. */
function tmpfs(kib: number, ro = false): string | null {
  const d = tempDir('nnunet-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${kib}k${ro ? ',ro' : ''}`, 'tmpfs', d]);
  if (r.status !== 0) return null;
  mounts.push(d);
  return d;
}
const canMount = process.getuid?.() === 0 && (() => {
  const d = tmpfs(16);
  return d !== null;
})();

async function runCli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await cli.runCli(args, { out: (s) => out.push(s) }, (s) => err.push(s));
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const coreDist = resolve('packages/core/dist/index.js');
const BIN = resolve('packages/cli/dist/bin.js');
const SHARED = process.env.NNUNET_SHARED ?? resolve(import.meta.dirname, '..', '..', '..', 'shared');
/** The shared nnU-Net Hippocampus 3d_fullres model (F-L08, F-D06, F-D07). */
const MODEL = join(SHARED, 'models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres');
const EXAMPLE = resolve('examples', 'Task04_Hippocampus_subset');
const hasModel = existsSync(join(MODEL, 'plans.json'));

/** A folder with the first `n` test images of the example (sorted: hippocampus_008, _020, _033, ...). */
function exampleImages(n: number): string {
  const d = tempDir('nnunet-imgs-');
  for (const f of readdirSync(join(EXAMPLE, 'imagesTs')).sort().slice(0, n)) copyFileSync(join(EXAMPLE, 'imagesTs', f), join(d, f));
  return d;
}

/** `predict` with the shared model (cpu-native, no mirroring, no estimate, quiet). */
function predict(input: string, output: string, ...extra: string[]): Promise<{ code: number; out: string; err: string }> {
  const config = join(tempDir('nnunet-cfg-'), 'c.json');
  writeFileSync(config, JSON.stringify({ estimate: false }));
  return runCli('predict', '-i', input, '-o', output, '-m', MODEL, '--backend', 'cpu-native', '--disable-tta', '--config', config, '-q', ...extra);
}

/** Start `nnunet-ts <args>` as its own process; resolves once it holds the lock of `run` (the file exists). */
async function startLocked(run: string, args: string[]): Promise<{ child: ReturnType<typeof spawn>; stderr: () => string; exit: Promise<number | null> }> {
  const child = spawn(process.execPath, [BIN, ...args, '-q'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => (stderr += String(d)));
  const exit = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const lock = join(run, core.LOCK_FILE);
  while (!existsSync(lock) && child.exitCode === null) await new Promise((r) => setTimeout(r, 20));
  return { child, stderr: () => stderr, exit };
}

describe('output-folder lock', () => {
  it('F-L01: a second run on a folder held by a live process refuses, naming the holder and the fix', async () => {
    const run = tempDir();
    // a real second process holds the lock (as a concurrent `nnunet-ts train -o run` would)
    const child = spawn(process.execPath, ['-e', `const c = await import(${JSON.stringify(coreDist)}); c.acquireFolderLock(${JSON.stringify(run)}, { command: 'nnunet-ts train X -o run' }); console.log('locked'); setInterval(() => {}, 1000);`, '--input-type=module'], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((res) => child.stdout!.once('data', () => res()));
    try {
      const r = await runCli('fingerprint', tempDir(), '-o', run, '-q');
      expect(r.code).toBe(1);
      expect(r.err).toContain(`error: the output folder ${run} is in use by process ${child.pid} on ${hostname()}`);
      expect(r.err).toContain('nnunet-ts train X -o run');
      expect(r.err).toContain(`hint: wait for that run to finish or stop it`);
    } finally {
      child.kill('SIGKILL');
      await new Promise((res) => child.once('exit', res));
    }
    // F-L02: the holder was SIGKILLed: its lock is stale (pid gone) and the next run takes it over
    const logs: string[] = [];
    const lock = core.acquireFolderLock(run, { log: (m) => logs.push(m) });
    expect(logs.join('\n')).toContain(`process ${child.pid} no longer exists`);
    expect(JSON.parse(readFileSync(lock.file, 'utf8')).pid).toBe(process.pid);
    lock.release();
    expect(existsSync(lock.file)).toBe(false);
  });

  it('F-L03: in one process, a second acquire of a held folder refuses; release frees it', () => {
    const run = tempDir();
    const a = core.acquireFolderLock(run);
    expect(() => core.acquireFolderLock(run)).toThrow(/is in use by process \d+/);
    a.release();
    core.acquireFolderLock(run).release();
  });

  it('F-L04: a lock from another host is honoured while fresh and taken over once older than staleMs', () => {
    const run = tempDir();
    const file = join(run, core.LOCK_FILE);
    writeFileSync(file, JSON.stringify({ pid: 1, hostname: 'other-node', command: 'nnunet-ts train', started: '2026-01-01T00:00:00Z' }));
    expect(() => core.acquireFolderLock(run, { staleMs: 60_000 })).toThrow(/in use by process 1 on other-node/);
    const old = new Date(Date.now() - 120_000);
    utimesSync(file, old, old);
    const logs: string[] = [];
    const l = core.acquireFolderLock(run, { staleMs: 60_000, log: (m) => logs.push(m) });
    expect(logs[0]).toMatch(/not refreshed for 1[12]\d s/);
    l.release();
  });

  it('F-L05: an empty/unreadable lock file (killed between create and write) is stale once 10 s old', () => {
    const run = tempDir();
    const file = join(run, core.LOCK_FILE);
    writeFileSync(file, '');
    expect(() => core.acquireFolderLock(run)).toThrow(/in use by another run/);
    const old = new Date(Date.now() - 11_000);
    utimesSync(file, old, old);
    core.acquireFolderLock(run, { log: () => {} }).release();
  });

  it('F-L06: the CLI releases its lock after a verb, also after an error', async () => {
    const run = tempDir();
    const r = await runCli('fingerprint', join(run, 'no-such-dataset'), '-o', run, '-q');
    expect(r.code).toBe(1);
    expect(existsSync(join(run, core.LOCK_FILE))).toBe(false);
  });
});

describe('stop signals (SIGTERM, SIGHUP) during a writing verb', () => {
  it('F-L07: SIGTERM during train (docker stop, SLURM time limit, timeout): the resume message, exit 143, the lock removed', async () => {
    const run = tempDir();
    for (const verb of [['plan', EXAMPLE, '-o', run, '-q'], ['preprocess', EXAMPLE, '-o', run, '--preset', 'tiny', '-q']]) expect((await runCli(...verb)).code).toBe(0);
    const p = await startLocked(run, ['train', EXAMPLE, '-o', run, '--preset', 'tiny', '--epochs', '2', '--iterations-per-epoch', '2']);
    expect(existsSync(join(run, core.LOCK_FILE))).toBe(true);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(143);
    expect(p.stderr()).toBe('\nstopped by SIGTERM: outputs already written are kept; run the same command again to resume\n');
    expect(existsSync(join(run, core.LOCK_FILE))).toBe(false);
    // a next run takes the folder without a stale-lock note (resuming itself: F-K03)
    const logs: string[] = [];
    core.acquireFolderLock(run, { log: (m) => logs.push(m) }).release();
    expect(logs).toEqual([]);
  }, 300_000);

  describe.skipIf(!hasModel)('with the shared nnU-Net model', () => {
    it('F-L08: SIGHUP (the terminal closed) during predict: the --continue advice, exit 129, the lock removed', async () => {
      const out = join(tempDir(), 'pred');
      const config = join(tempDir('nnunet-cfg-'), 'c.json');
      writeFileSync(config, JSON.stringify({ estimate: false }));
      const p = await startLocked(out, ['predict', '-i', join(EXAMPLE, 'imagesTs'), '-o', out, '-m', MODEL, '--backend', 'cpu-native', '--config', config]);
      p.child.kill('SIGHUP');
      expect(await p.exit).toBe(129);
      expect(p.stderr()).toBe('\nstopped by SIGHUP: segmentations already written are kept; run the same command with --continue to predict only the missing cases (without it, predict writes every case again)\n');
      expect(existsSync(join(out, core.LOCK_FILE))).toBe(false);
    }, 120_000);
  });
});

describe.skipIf(!hasModel)('predict --continue and ensemble: a case counts only with every output the options ask for', () => {
  it('F-D07: --continue --save-probabilities predicts again a case whose .npz/.pkl are missing; ensemble refuses segmentations without .npz', async () => {
    const input = exampleImages(2);
    const out = join(tempDir(), 'pred');
    // the first case without probabilities (an earlier run without the flag, or the old order: segmentation first)
    const first = join(tempDir(), 'one');
    mkdirSync(first);
    copyFileSync(join(input, 'hippocampus_008.nii.gz'), join(first, 'hippocampus_008.nii.gz'));
    expect((await predict(first, out)).code).toBe(0);
    expect(readdirSync(out).filter((f) => !f.startsWith('.')).sort()).toEqual(['hippocampus_008.nii.gz']);
    // ensemble of a folder holding a segmentation without its .npz: refused, naming the case (was: silently left out)
    const p2 = join(tempDir(), 'p2');
    expect((await predict(input, p2, '--save-probabilities')).code).toBe(0);
    const halfDir = join(tempDir(), 'half');
    mkdirSync(halfDir);
    for (const f of ['dataset.json', 'plans.json', 'hippocampus_008.nii.gz', 'hippocampus_008.npz', 'hippocampus_008.pkl', 'hippocampus_020.nii.gz']) copyFileSync(join(p2, f), join(halfDir, f));
    const ens = join(tempDir(), 'ens');
    const e = await runCli('ensemble', '-i', halfDir, halfDir, '-o', ens, '-q');
    expect(e.code).toBe(1);
    expect(e.err).toBe(`error: ${halfDir}: the folder holds segmentations without their .npz probabilities, 1 case(s): hippocampus_020\nhint: predict these cases again with --save-probabilities (the same predict command with --continue writes only what is missing), then ensemble`);
    expect(existsSync(ens)).toBe(false);
    // --continue with --save-probabilities: hippocampus_008 lacks its .npz/.pkl, so it is predicted again (was: kept)
    const r = await predict(input, out, '--save-probabilities', '--continue');
    expect(r.code).toBe(0);
    expect(r.out).toContain(`wrote 2 segmentation(s) to ${out}`);
    expect(readdirSync(out).filter((f) => !f.startsWith('.')).sort()).toEqual([
      'dataset.json', 'hippocampus_008.nii.gz', 'hippocampus_008.npz', 'hippocampus_008.pkl', 'hippocampus_020.nii.gz', 'hippocampus_020.npz', 'hippocampus_020.pkl', 'plans.json',
    ]);
    const ok = await runCli('ensemble', '-i', out, out, '-o', ens, '-q');
    expect(ok.code).toBe(0);
    expect(readdirSync(ens).sort()).toEqual(['dataset.json', 'hippocampus_008.nii.gz', 'hippocampus_020.nii.gz']);
  }, 300_000);
});

describe.skipIf(!canMount)('disk full and read-only output folders (tmpfs, root only)', () => {
  const image = { data: new Float32Array(64 * 64 * 64).map((_, i) => Math.sin(i)), shape: [1, 64, 64, 64] as [number, number, number, number], spacing: [1, 1, 1] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };

  it('F-D01: writeFileAtomic on a full disk throws ENOSPC naming the file and the fix; nothing is left behind', async () => {
    const d = tmpfs(64)!;
    const f = join(d, 'checkpoint_latest.bin');
    await expect(core.writeFileAtomic(f, new Uint8Array(256 * 1024))).rejects.toThrow(`cannot write ${f} (ENOSPC`);
    await core.writeFileAtomic(f, new Uint8Array(256 * 1024)).catch((e: { hint?: string }) => expect(e.hint).toContain('the disk is full'));
    expect(readdirSync(d)).toEqual([]);
    expect(() => core.writeFileAtomicSync(f, 'x'.repeat(256 * 1024))).toThrow(/ENOSPC/);
    expect(readdirSync(d)).toEqual([]);
  });

  it('F-D02: an existing output is kept intact when its rewrite hits a full disk', async () => {
    const d = tmpfs(64)!;
    const f = join(d, 'plans.json');
    await core.writeFileAtomic(f, '{"ok": true}');
    await expect(core.writeFileAtomic(f, new Uint8Array(256 * 1024))).rejects.toThrow(/ENOSPC/);
    expect(readFileSync(f, 'utf8')).toBe('{"ok": true}');
    expect(readdirSync(d)).toEqual(['plans.json']);
  });

  it('F-D03: the NIfTI writer and the preprocessed-case cache on a full disk: clear error, no partial file', async () => {
    const d = tmpfs(64)!;
    const f = join(d, 'case_001.nii');
    await expect(ioNifti.writeNifti(f, image)).rejects.toThrow(`cannot write ${f} (ENOSPC`);
    await expect(core.writePreprocessedCase(d, 'case_001', { data: image.data, seg: new Int16Array(image.data.length), shape: image.shape, properties: {} } as never)).rejects.toThrow(/ENOSPC/);
    expect(readdirSync(d)).toEqual([]);
  });

  it('F-D04: a read-only output folder: the CLI exits 1 with "not writable", no stack trace', async () => {
    const d = tmpfs(64, true)!;
    const r = await runCli('fingerprint', tempDir(), '-o', join(d, 'run'), '-q');
    expect(r.code).toBe(1);
    expect(r.err).toContain(`cannot lock the output folder ${join(d, 'run')} (EROFS)`);
    expect(r.err).toContain('not writable');
    expect(r.err).not.toContain('    at ');
    await expect(core.writeFileAtomic(join(d, 'x.json'), '{}')).rejects.toThrow(/EROFS/);
  });

  describe.skipIf(!hasModel)('with the shared nnU-Net model', () => {
    it('F-D06: predict --save-probabilities on a full disk: a failed case leaves no segmentation; the hint says free space and --continue, which completes every output', async () => {
      const input = exampleImages(3);
      const d = tmpfs(1024)!; // room for one case's .npz (~640 kB), not two
      const r = await predict(input, d, '--save-probabilities');
      expect(r.code).toBe(1);
      expect(r.err).toBe([
        `error: 2 of 3 case(s) could not be predicted (the other 1 are in ${d}):`,
        `  hippocampus_020: cannot write ${d}/hippocampus_020.npz (ENOSPC: no space left on device)`,
        `  hippocampus_033: cannot write ${d}/hippocampus_033.npz (ENOSPC: no space left on device)`,
        'hint: free space on the disk of the output folder, then run the same command with --continue: the segmentations already written are kept and only the missing cases are predicted',
      ].join('\n'));
      // the probabilities are written first and the segmentation last: a failed case has none of its outputs (was: its .nii.gz)
      expect(readdirSync(d).sort()).toEqual(['dataset.json', 'hippocampus_008.nii.gz', 'hippocampus_008.npz', 'hippocampus_008.pkl', 'plans.json']);
      expect(spawnSync('mount', ['-o', 'remount,size=8m', d]).status).toBe(0);
      const again = await predict(input, d, '--save-probabilities', '--continue');
      expect(again.code).toBe(0);
      expect(again.out).toContain(`wrote 2 segmentation(s) to ${d}; kept 1 already there (--continue)`);
      expect(readdirSync(d).sort()).toEqual(['dataset.json', ...['008', '020', '033'].flatMap((c) => ['.nii.gz', '.npz', '.pkl'].map((e) => `hippocampus_${c}${e}`)), 'plans.json']);
    }, 300_000);
  });

  /** `s` as a literal in a RegExp. */
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

  it('F-D08: convert-msd and decathlon on a full disk: the error names the file and the fix, exit 1, no stack trace, nothing partial left', async () => {
    const d = tmpfs(3072)!; // the example is 4.1 MB
    const r = await runCli('convert-msd', EXAMPLE, '-o', join(d, 'raw'));
    expect(r.code).toBe(1);
    // which file meets the full disk depends on what the folder already holds (the decathlon's run folder has more):
    // any copied case file of the partial folder, named in full
    const fullDisk = (partial: string) => new RegExp(`^error: cannot write ${escape(partial)}/(imagesTr/hippocampus_\\d{3}_0000|labelsTr/hippocampus_\\d{3})\\.nii\\.gz \\(ENOSPC: no space left on device\\)\\n` +
      `${escape('hint: the disk is full: free space (or choose another output folder) and rerun the same command; it resumes')}$`);
    expect(r.err).toMatch(fullDisk(`${d}/raw/Dataset004_Hippocampus_subset.partial-${process.pid}`));
    expect(readdirSync(d)).toEqual([]);
    const dec = await runCli('decathlon', EXAMPLE, '-o', join(d, 'run'), '-q');
    expect(dec.code).toBe(1);
    expect(dec.err).toMatch(fullDisk(`${d}/run/nnUNet_raw/Dataset004_Hippocampus_subset.partial-${process.pid}`));
    expect(readdirSync(join(d, 'run', 'nnUNet_raw'))).toEqual([]);
    // after freeing space the same command converts
    expect(spawnSync('mount', ['-o', 'remount,size=16m', d]).status).toBe(0);
    expect((await runCli('convert-msd', EXAMPLE, '-o', join(d, 'raw'), '-q')).code).toBe(0);
    expect(readdirSync(join(d, 'raw', 'Dataset004_Hippocampus_subset')).sort()).toEqual(['dataset.json', 'imagesTr', 'imagesTs', 'labelsTr', 'labelsTs']);
  }, 120_000);
});

it('F-D09: a plain fs call failing on a full disk, read-only folder or permissions (copy, rename, mkdir) becomes the error naming the file; a read-side EACCES says "cannot access"', () => {
  const errno = (code: string, syscall: string, message: string, path: string, dest?: string) => Object.assign(new Error(message), { code, syscall, path, dest });
  const copy = core.fileSystemError(errno('ENOSPC', 'copyfile', "ENOSPC: no space left on device, copyfile '/in/a.nii.gz' -> '/out/a.nii.gz'", '/in/a.nii.gz', '/out/a.nii.gz')) as { message: string; hint: string };
  expect(copy.message).toBe('cannot write /out/a.nii.gz (ENOSPC: no space left on device)');
  expect(copy.hint).toBe('the disk is full: free space (or choose another output folder) and rerun the same command; it resumes');
  const mk = core.fileSystemError(errno('EROFS', 'mkdir', "EROFS: read-only file system, mkdir '/ro/run'", '/ro/run')) as { message: string; hint: string };
  expect(mk.message).toBe('cannot write /ro/run (EROFS: read-only file system)');
  const open = core.fileSystemError(errno('EACCES', 'open', "EACCES: permission denied, open '/in/b.nii.gz'", '/in/b.nii.gz')) as { message: string; hint: string };
  expect(open.message).toBe('cannot access /in/b.nii.gz (EACCES: permission denied)');
  expect(open.hint).toContain('fix the permissions of the file and its folder');
  const other = new Error('boom');
  expect(core.fileSystemError(other)).toBe(other);
  const enoent = errno('ENOENT', 'open', 'ENOENT: no such file', '/x');
  expect(core.fileSystemError(enoent)).toBe(enoent);
});

it('F-D05: tmpfs mounting is available when running as root (CI); otherwise the disk tests above are skipped', () => {
  if (process.getuid?.() === 0) expect(canMount).toBe(true);
  expect(execFileSync('true').length).toBe(0);
  mkdirSync(tempDir(), { recursive: true });
});
