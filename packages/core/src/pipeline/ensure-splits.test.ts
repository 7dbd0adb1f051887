import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Registry } from '../registry/registry.js';
import { DataError } from '../util/errors.js';
import { ensureSplits } from './train-stage.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

describe('ensureSplits', () => {
  it('refuses a training set of one case with the count, the folder and a hint (not a fold-count message)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnunet-splits-'));
    dirs.push(dir);
    const file = join(dir, 'splits_final.json');
    const err = await ensureSplits(file, ['case_1'], 5, new Registry()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as DataError).message).toBe(`${dir}: 1 training case(s): cross-validation needs at least 2 labelled training cases`);
    expect((err as DataError).file).toBe(dir);
    expect((err as DataError).hint).toMatch(/add labelled training cases/);
    expect(existsSync(file)).toBe(false);
  });

  it('makes fewer folds than asked when there are fewer cases (2 cases: 2 folds) and writes them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nnunet-splits-'));
    dirs.push(dir);
    const file = join(dir, 'splits_final.json');
    const s = await ensureSplits(file, ['b', 'a'], 5, new Registry());
    expect(s.map((f) => f.val.length)).toEqual([1, 1]);
    expect(s.flatMap((f) => f.val).sort()).toEqual(['a', 'b']);
    expect(existsSync(file)).toBe(true);
  });
});
