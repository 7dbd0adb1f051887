/**
 * Exit codes, the same for every verb (README "Exit codes"; fresh-user finding: usage errors found inside a verb
 * exited 1 like runtime failures): 2 for a wrong command line (unknown flag, missing argument or required option, an
 * option value outside its form), 1 for a run that fails on its inputs (a missing folder), each with one `error:` line.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createProgram, runCli } from './program.js';

const dir = mkdtempSync(join(tmpdir(), 'nnunet-exit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(...argv: string[]): Promise<{ code: number; err: string }> {
  const err: string[] = [];
  const code = await runCli(argv, { out: () => {} }, (s) => err.push(s));
  return { code, err: err.join('\n') };
}

const VERBS = createProgram({ out: () => {} }).commands.map((c) => c.name());

describe('exit codes', () => {
  it('every verb: an unknown flag and a missing argument or required option exit 2', async () => {
    expect(VERBS.length).toBeGreaterThanOrEqual(17);
    const stderr = process.stderr.write;
    process.stderr.write = (() => true) as typeof process.stderr.write; // commander prints the usage text itself
    try {
      for (const verb of VERBS) {
        expect((await run(verb, '--no-such-flag', 'x')).code, `${verb} --no-such-flag`).toBe(2);
        expect((await run(verb)).code, `${verb} without arguments`).toBe(2);
      }
      expect((await run('no-such-verb')).code).toBe(2);
    } finally {
      process.stderr.write = stderr;
    }
  });

  it('an option value outside its form or set, or options that go together, exit 2 with the error and where the options are listed', async () => {
    const cases: [string[], string][] = [
      [['train', dir, '-o', join(dir, 'r1'), '--epochs', 'abc'], "--epochs must be a positive integer, got 'abc'"],
      [['decathlon', dir, '-o', join(dir, 'r2'), '--time-budget', '5q'], "--time-budget must be a duration like 30m, 1h30m or 90s, got '5q'"],
      [['decathlon', dir, '-o', join(dir, 'r2b'), '--time-budget', '5'], '--time-budget 5: give a unit, e.g. 5m, 1h30m, 90s'],
      [['decathlon', dir, '-o', join(dir, 'r3'), '--preset', 'nope'], "unknown preset 'nope'"],
      [['predict', '-i', dir, '-o', join(dir, 'p'), '-m', dir, '-f', 'a'], "bad fold list 'a'"],
      [['predict', '-i', dir, '-o', join(dir, 'p'), '-m', dir, '--checkpoint', 'x/y'], "unknown checkpoint 'x/y'"],
      [['evaluate', '-p', dir, '-r', dir], 'evaluate needs --dataset-json or --labels'],
      [['plan', '-o', join(dir, 'plans.json')], 'plan needs <dataset> or --fingerprint with --dataset-json'],
      [['export-nnunet', '-m', dir, '-o', join(dir, 'x'), '-f', 'a'], "bad fold list 'a'"],
    ];
    for (const [argv, message] of cases) {
      const r = await run(...argv, '-q');
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).toContain(`error: ${message}`);
      expect(r.err).toContain(`(see: nnunet-ts ${argv[0]} --help)`);
    }
  });

  it('a well-formed command on inputs that are not there exits 1, naming the file', async () => {
    const nowhere = join(dir, 'nowhere');
    for (const argv of [
      ['validate', nowhere],
      ['predict', '-i', nowhere, '-o', join(dir, 'p'), '-m', dir],
      ['evaluate', '-p', dir, '-r', nowhere, '-l', '1'],
      ['export-nnunet', '-m', nowhere, '-o', join(dir, 'x')],
      ['job', '-o', nowhere, 'train.3d_fullres.0'],
    ]) {
      const r = await run(...argv, '-q');
      expect(r.code, argv.join(' ')).toBe(1);
      expect(r.err).toContain(nowhere);
      expect(r.err).not.toContain('--help');
    }
  });
});
