/**
 * Fresh-user errors of `convert-msd` and `validate` on broken MSD task folders: listed files missing (all named in
 * one message, exit 1, no partial folder left), an output folder inside the input task folder (refused, input
 * untouched), a missing MSD label in `validate` (named with the fix, as the v2 layout reports it), and a file passed
 * where the dataset folder is expected.
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '@nnunet-ts/cli';
import { convertMsd } from '@nnunet-ts/core';
import { EXAMPLE_TASK } from './helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnunet-convert-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the example task under `tmp/<name>/Task04_Hippocampus` (40 training and 10 test cases). */
function taskCopy(name: string): string {
  const root = join(tmp, name, 'Task04_Hippocampus');
  cpSync(EXAMPLE_TASK, root, { recursive: true });
  return root;
}

async function cli(...argv: string[]): Promise<{ code: number; err: string[]; out: string[] }> {
  const err: string[] = [];
  const out: string[] = [];
  const code = await runCli([...argv, '-q'], { out: (s) => out.push(s) }, (s) => err.push(...s.split('\n').filter((l) => l.length)));
  expect(err.join('\n')).not.toMatch(/internal error|^\s+at /m);
  return { code, err, out };
}

describe('convert-msd on a task with missing listed files', () => {
  it('one DataError names every missing file and the fix; exit 1; no partial folder left', async () => {
    const root = taskCopy('missing');
    const gone = ['labelsTr/hippocampus_003.nii.gz', 'labelsTr/hippocampus_007.nii.gz', 'imagesTr/hippocampus_019.nii.gz'].map((f) => join(root, f));
    for (const f of gone) rmSync(f);
    const raw = join(tmp, 'missing', 'raw');
    mkdirSync(raw);
    for (let run = 0; run < 2; run++) {
      const r = await cli('convert-msd', root, '-o', raw);
      expect(r.code).toBe(1);
      expect(r.err[0]).toBe(`error: 3 file(s) listed in ${join(root, 'dataset.json')} are missing: ${gone.join(', ')}`);
      expect(r.err[1]).toBe("hint: restore the file(s), or remove their entries from dataset.json 'training' (and 'test'); nothing was written");
      expect(readdirSync(raw)).toEqual([]);
    }
  });

  it('a failure while writing removes the partial folder', async () => {
    const root = taskCopy('writefail');
    const label = join(root, 'labelsTr', 'hippocampus_017.nii.gz');
    rmSync(label);
    mkdirSync(label); // exists, but cannot be copied: fails mid-conversion
    const out = join(tmp, 'writefail', 'raw', 'Dataset004_Hippocampus');
    await expect(convertMsd(root, out)).rejects.toThrow(/EISDIR|illegal operation on a directory/);
    expect(readdirSync(join(tmp, 'writefail', 'raw'))).toEqual([]);
  });
});

describe('convert-msd with the output inside the input task folder', () => {
  it('is refused before anything is written there (no dataset folder, no lock file)', async () => {
    const root = taskCopy('inside');
    const before = readdirSync(root).sort();
    for (const o of [root, join(root, 'Dataset004_Hippocampus')]) {
      const r = await cli('convert-msd', root, '-o', o);
      expect(r.code).toBe(1);
      expect(r.err[0]).toBe(`error: output folder ${o} is inside the input task folder ${root}; the input is never modified`);
      expect(r.err[1]).toBe('hint: pass an output folder outside the task folder, e.g. -o <nnUNet_raw> next to it');
      expect(readdirSync(root).sort()).toEqual(before);
    }
    await expect(convertMsd(root, join(root, 'sub', 'Dataset004_Hippocampus'))).rejects.toThrow(/is inside the input task folder/);
    // a sibling whose name merely starts with the task folder's name is outside it
    const r = await cli('convert-msd', root, '-o', `${root}_v2`);
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(existsSync(join(`${root}_v2`, 'Dataset004_Hippocampus', 'dataset.json'))).toBe(true);
  });
});

describe('convert-msd into an existing dataset folder', () => {
  it('an existing folder that is not a converted dataset is refused, and nothing is mixed into it', async () => {
    const root = taskCopy('existing');
    const out = join(tmp, 'existing', 'Dataset004_Hippocampus');
    mkdirSync(join(out, 'notes'), { recursive: true });
    const r = await cli('convert-msd', root, '-o', out);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([`error: output folder ${out} already exists and holds notes, but no dataset.json`, 'hint: pass a new or empty output folder (or remove this one)']);
    expect(readdirSync(out)).toEqual(['notes']);
    expect(readdirSync(join(tmp, 'existing')).sort()).toEqual(['Dataset004_Hippocampus', 'Task04_Hippocampus']);
  });
});

describe('validate on a broken MSD task', () => {
  it('a listed label that is missing is reported as missing with the fix, not as an unreadable NIfTI', async () => {
    const root = taskCopy('validate');
    const label = join(root, 'labelsTr', 'hippocampus_007.nii.gz');
    rmSync(label);
    const r = await cli('validate', root);
    expect(r.code).toBe(1);
    const text = [...r.out, ...r.err].join('\n');
    expect(text).toContain(`${label}: label file is missing (listed in dataset.json); restore the file, or remove the case's entry from dataset.json 'training' (or 'test')`);
    expect(text).not.toMatch(/cannot open NIfTI|ENOENT/);
  });

  it('the v2 layout names the missing label with the same words and the fix', async () => {
    const root = taskCopy('validate-v2');
    const out = join(tmp, 'validate-v2', 'Dataset004_Hippocampus');
    // -o names the dataset folder itself: the CLI's lock file is already in it when the conversion moves into place
    expect((await cli('convert-msd', root, '-o', out)).code).toBe(0);
    rmSync(join(out, 'labelsTr', 'hippocampus_007.nii.gz'));
    const r = await cli('validate', out);
    expect(r.code).toBe(1);
    expect([...r.out, ...r.err].join('\n')).toContain(
      `${join(out, 'labelsTr', 'hippocampus_007.nii.gz')}: label file is missing; add labelsTr/hippocampus_007.nii.gz, or remove the case's images from imagesTr`,
    );
  });

  it('dataset.json passed instead of its folder: says it is a file and to pass the folder', async () => {
    const file = join(EXAMPLE_TASK, 'dataset.json');
    const r = await cli('validate', file);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([`error: ${file} is a file, not a dataset folder`, `hint: pass the folder that holds it: ${EXAMPLE_TASK} (a TaskXX_Name or DatasetXXX_Name folder)`]);
  });
});
