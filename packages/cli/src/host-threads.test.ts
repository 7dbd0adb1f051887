import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hostJobProcesses, parseThreads, registerHostWorker } from './host-threads.js';
import { threadEnv } from './job-process.js';

const dir = mkdtempSync(join(tmpdir(), 'nnunet-host-threads-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The id of a process that has exited (so the registration of a SIGKILLed worker can be faked). */
const deadPid = () => spawnSync(process.execPath, ['-e', '0']).pid!;

describe('compute threads of workers sharing a machine', () => {
  it('--threads: a positive integer or auto; anything else is a usage error naming the flag', () => {
    expect(parseThreads(undefined)).toBe('auto');
    expect(parseThreads('auto')).toBe('auto');
    expect(parseThreads('3')).toBe(3);
    for (const bad of ['0', '-1', '1.5', 'two']) expect(() => parseThreads(bad)).toThrow(`--threads must be a positive integer or 'auto', got '${bad}'`);
  });

  it('auto: the cores are split over the job processes of the live workers; a dead worker does not count and its entry goes', () => {
    const d = join(dir, 'split');
    const me = registerHostWorker(1, 'auto', { dir: d, cores: 2 });
    expect(me.threads()).toBe(2);
    expect(me.describe()).toBe('2 compute thread(s) per job process (--threads auto: 2 core(s), 1 job process(es) of the workers on this machine)');
    // another live worker (this test runner's parent process stands in for it) with 1 job process
    writeFileSync(join(d, `${process.ppid}.json`), JSON.stringify({ pid: process.ppid, jobProcesses: 1 }));
    expect(hostJobProcesses(d)).toBe(2);
    expect(me.threads()).toBe(1);
    // a SIGKILLed worker's file is ignored and removed
    const dead = deadPid();
    writeFileSync(join(d, `${dead}.json`), JSON.stringify({ pid: dead, jobProcesses: 4 }));
    expect(me.threads()).toBe(1);
    expect(existsSync(join(d, `${dead}.json`))).toBe(false);
    // more job processes than cores: 1 thread each, never 0
    writeFileSync(join(d, `${process.ppid}.json`), JSON.stringify({ pid: process.ppid, jobProcesses: 3 }));
    expect(me.threads()).toBe(1);
    rmSync(join(d, `${process.ppid}.json`));
    expect(me.threads()).toBe(2);
    me.release();
    expect(readdirSync(d)).toEqual([]);
  });

  it('a worker with --concurrency 4 on 8 cores gives each job process 2 threads; a fixed number registers nothing', () => {
    const d = join(dir, 'fixed');
    const w = registerHostWorker(4, 'auto', { dir: d, cores: 8 });
    expect(w.threads()).toBe(2);
    w.release();
    const f = registerHostWorker(1, 3, { dir: join(dir, 'none'), cores: 8 });
    expect(f.threads()).toBe(3);
    expect(existsSync(join(dir, 'none'))).toBe(false);
  });

  it('a job process is started with the thread count in NNUNET_NUM_THREADS and NNUNET_TS_RESAMPLE_THREADS', () => {
    expect(threadEnv(1, { A: 'x' })).toEqual({ A: 'x', NNUNET_NUM_THREADS: '1', NNUNET_TS_RESAMPLE_THREADS: '1' });
    const env = { NNUNET_NUM_THREADS: '5' };
    expect(threadEnv(undefined, env)).toBe(env);
  });
});
