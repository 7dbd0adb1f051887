/**
 * Output-folder lock (two runs on one folder), disk full and read-only output folders (docs/FAULTS.md,
 * "Interruptions and output folders"). Disk-full and read-only cases mount a small tmpfs; they need root (CI runs
 * as root) and are skipped elsewhere.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
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
});

it('F-D05: tmpfs mounting is available when running as root (CI); otherwise the disk tests above are skipped', () => {
  if (process.getuid?.() === 0) expect(canMount).toBe(true);
  expect(execFileSync('true').length).toBe(0);
  mkdirSync(tempDir(), { recursive: true });
});
