import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RandomState } from '../util/random-state.js';
import { createSplits, foldCases, readSplits, writeSplits } from './splits.js';

/**
 * Validation indices (into the sorted ids) per fold, computed with numpy 2.4 RandomState(12345).shuffle and
 * scikit-learn KFold's chunking (the algorithm of sklearn.model_selection.KFold(shuffle=True, random_state=12345)).
 */
const NUMPY_REFERENCE: Record<string, number[][]> = {"5": [[0], [4], [3], [1], [2]], "7": [[3, 6], [0, 4], [1], [5], [2]], "12": [[0, 3, 8], [7, 10, 11], [6, 9], [1, 4], [2, 5]], "33": [[0, 3, 15, 23, 24, 28, 30], [6, 7, 8, 12, 19, 20, 21], [10, 11, 13, 18, 25, 26, 27], [14, 16, 17, 22, 31, 32], [1, 2, 4, 5, 9, 29]], "260": [[9, 10, 16, 18, 20, 30, 33, 40, 47, 50, 52, 54, 57, 67, 68, 71, 73, 95, 101, 104, 110, 117, 120, 122, 127, 128, 130, 134, 135, 145, 156, 167, 169, 175, 177, 179, 181, 182, 187, 196, 197, 203, 211, 214, 216, 222, 227, 228, 234, 235, 246, 259], [1, 14, 15, 17, 19, 26, 27, 39, 49, 55, 56, 66, 70, 85, 89, 92, 93, 99, 100, 103, 106, 112, 126, 132, 139, 144, 147, 150, 151, 152, 153, 157, 160, 168, 173, 180, 186, 190, 191, 198, 202, 207, 212, 213, 220, 221, 226, 229, 230, 232, 233, 237], [2, 4, 8, 13, 24, 25, 28, 35, 42, 44, 48, 51, 60, 61, 78, 79, 84, 86, 90, 94, 96, 98, 102, 109, 111, 125, 136, 137, 140, 141, 148, 161, 162, 164, 165, 170, 174, 176, 188, 193, 195, 200, 206, 209, 225, 240, 243, 244, 245, 249, 252, 255], [0, 3, 6, 12, 21, 22, 32, 37, 38, 41, 45, 46, 58, 62, 63, 65, 69, 74, 76, 80, 82, 83, 88, 116, 121, 123, 146, 149, 154, 155, 158, 159, 163, 171, 172, 178, 185, 192, 194, 199, 204, 205, 215, 217, 219, 224, 236, 238, 239, 248, 250, 254], [5, 7, 11, 23, 29, 31, 34, 36, 43, 53, 59, 64, 72, 75, 77, 81, 87, 91, 97, 105, 107, 108, 113, 114, 115, 118, 119, 124, 129, 131, 133, 138, 142, 143, 166, 183, 184, 189, 201, 208, 210, 218, 223, 231, 241, 242, 247, 251, 253, 256, 257, 258]]};

const ids = (n: number) => Array.from({ length: n }, (_, i) => `hippocampus_${String(i + 1).padStart(3, '0')}`);

describe('RandomState (MT19937 core)', () => {
  it('matches the reference MT19937 output for seed 5489', () => {
    const mt = new RandomState(5489);
    expect(mt.nextUint32()).toBe(3499211612);
    expect(mt.nextUint32()).toBe(581869302);
  });
});

describe('createSplits', () => {
  it.each(Object.keys(NUMPY_REFERENCE))('equals sklearn KFold(shuffle, 12345) for %s cases', (n) => {
    const keys = ids(Number(n));
    const splits = createSplits([...keys].reverse());
    expect(splits.map((s) => s.val)).toEqual(NUMPY_REFERENCE[n]!.map((v) => v.map((i) => keys[i])));
  });

  it('has disjoint folds covering every case, sizes differing by at most one, deterministic', () => {
    const keys = ids(33);
    const s = createSplits(keys);
    expect(s.map((f) => f.val.length)).toEqual([7, 7, 7, 6, 6]);
    expect(new Set(s.flatMap((f) => f.val)).size).toBe(33);
    for (const f of s) {
      expect(f.train.length + f.val.length).toBe(33);
      expect(f.train.filter((k) => f.val.includes(k))).toEqual([]);
    }
    expect(createSplits(keys)).toEqual(s);
    expect(createSplits(keys, 5, 1)).not.toEqual(s);
  });

  it('rejects fewer cases than folds and duplicates', () => {
    expect(() => createSplits(['a', 'b'])).toThrow(/2 training case/);
    expect(() => createSplits(['a', 'a', 'b', 'c', 'd'])).toThrow(/duplicate/);
  });

  it('round-trips splits_final.json and reports a broken file by name', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'splits-'));
    const s = createSplits(ids(6));
    await writeSplits(join(dir, 'splits_final.json'), s);
    expect(await readSplits(join(dir, 'splits_final.json'))).toEqual(s);
    writeFileSync(join(dir, 'bad.json'), '[{"train": [1]}]');
    await expect(readSplits(join(dir, 'bad.json'))).rejects.toThrow(/bad\.json/);
    expect(foldCases(s, 'all').train.length).toBe(6);
    expect(() => foldCases(s, 7)).toThrow(/fold 7/);
  });
});
