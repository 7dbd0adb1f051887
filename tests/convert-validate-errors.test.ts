/**
 * Fresh-user errors of `convert-msd` and `validate` on broken MSD task folders: listed files missing (all named in
 * one message, exit 1, no partial folder left), an output folder inside the input task folder (refused, input
 * untouched), a missing MSD label in `validate` (named with the fix, as the v2 layout reports it), a file passed
 * where the dataset folder is expected, and the v2 dataset name (F-C01..F-C04: a task folder not named TaskXX_Name,
 * `--id`, an `-o` named almost like DatasetXXX_Name, an id another dataset already uses).
 */
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '@nnunet-ts/cli';
import { convertMsd, msdConversionTarget, v2DatasetName } from '@nnunet-ts/core';
import { EXAMPLE_TASK } from './helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnunet-convert-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** A copy of the example task under `tmp/<name>/<folder>` (40 training and 10 test cases). */
function taskCopy(name: string, folder = 'Task04_Hippocampus'): string {
  const root = join(tmp, name, folder);
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

describe('convert-msd: the nnU-Net v2 dataset name DatasetXXX_Name', () => {
  it('F-C01: a task folder not named TaskXX_Name is refused without --id, naming the folder and the fix; nothing written', async () => {
    const root = taskCopy('noid', 'hippocampus-copy');
    const raw = join(tmp, 'noid', 'raw');
    const r = await cli('convert-msd', root, '-o', raw);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      `error: the task folder ${root} is not named TaskXX_Name (like Task04_Hippocampus), so it gives no dataset id; nnU-Net v2 finds datasets by the id in DatasetXXX_Name`,
      "hint: pass --id <n> (nnU-Net's -overwrite_id: a dataset id up to 999 that no other dataset uses) to write Dataset<n>_hippocampus-copy, or -o <nnUNet_raw>/DatasetXXX_Name to name the dataset folder yourself",
    ]);
    // was: <raw>/hippocampus-copy, a folder nnU-Net v2 does not take as a dataset
    expect(existsSync(raw)).toBe(false);
    expect(() => v2DatasetName(root)).toThrow(/is not named TaskXX_Name/);
    // nnU-Net's ids have three digits: a TaskXX with more is refused the same way
    expect(() => v2DatasetName(join(tmp, 'Task1234_Big'))).toThrow(`the task folder ${join(tmp, 'Task1234_Big')} names dataset id 1234; nnU-Net v2 dataset ids have three digits (0 to 999)`);

    // --id names it (nnU-Net's -overwrite_id); or -o names the dataset folder itself
    const ok = await cli('convert-msd', root, '-o', raw, '--id', '104');
    expect(ok.code, ok.err.join('\n')).toBe(0);
    expect(ok.out).toEqual([`converted 40 training and 10 test cases to ${join(raw, 'Dataset104_hippocampus-copy')}`]);
    const own = join(tmp, 'noid', 'raw2', 'Dataset105_Hippo');
    expect((await cli('convert-msd', root, '-o', own)).code).toBe(0);
    expect(existsSync(join(own, 'dataset.json'))).toBe(true);
  });

  it('F-C02: --id overrides the id of a TaskXX_Name folder; a value that is not 0..999 is a usage error (exit 2)', async () => {
    const root = taskCopy('withid');
    expect(v2DatasetName(root)).toBe('Dataset004_Hippocampus');
    expect(v2DatasetName(root, 204)).toBe('Dataset204_Hippocampus');
    expect(v2DatasetName(root, 0)).toBe('Dataset000_Hippocampus');
    const raw = join(tmp, 'withid', 'raw');
    for (const bad of ['1000', '4x', '-1', '2.5']) {
      const r = await cli('convert-msd', root, '-o', raw, `--id=${bad}`);
      expect(r.code).toBe(2);
      expect(r.err).toEqual([`error: --id must be a dataset id from 0 to 999, got '${bad}'`, 'hint: nnU-Net v2 names datasets DatasetXXX_Name, the id in three digits', '(see: nnunet-ts convert-msd --help)']);
    }
    expect(existsSync(raw)).toBe(false);
    const r = await cli('convert-msd', root, '-o', raw, '--id', '204');
    expect(r.code, r.err.join('\n')).toBe(0);
    expect(readdirSync(raw)).toEqual(['Dataset204_Hippocampus']);
  });

  it('F-C03: -o named almost like DatasetXXX_Name is refused with the name to use (was: taken as the dataset folder)', async () => {
    const root = taskCopy('oname');
    const raw = join(tmp, 'oname', 'raw');
    for (const [name, suggestion] of [['Dataset4_Hippocampus', 'Dataset004_Hippocampus'], ['dataset004_Hippocampus', 'Dataset004_Hippocampus'], ['Dataset0004_Hippo', 'Dataset004_Hippo'], ['Dataset004', 'Dataset004_Hippocampus']]) {
      const o = join(raw, name);
      const r = await cli('convert-msd', root, '-o', o);
      expect(r.code).toBe(2);
      expect(r.err).toEqual([
        `error: -o ${o}: '${name}' is not an nnU-Net v2 dataset folder name; nnU-Net needs DatasetXXX_Name (the id in exactly three digits, then _ and a name)`,
        `hint: name it ${suggestion}, or pass the nnUNet_raw folder that should hold the dataset (-o ${raw})`,
        '(see: nnunet-ts convert-msd --help)',
      ]);
    }
    expect(existsSync(raw)).toBe(false);
    // -o naming a dataset folder and --id another id: which one is meant is unclear
    const own = join(raw, 'Dataset004_Hippocampus');
    expect(() => msdConversionTarget(root, own, 5)).toThrow(`-o ${own} names dataset id 4, --id 5 another`);
    expect(msdConversionTarget(root, own, 4)).toBe(own);
    // a folder merely starting with 'Dataset' (no digit after it) is an nnUNet_raw folder: the dataset goes inside
    expect(msdConversionTarget(root, join(tmp, 'oname', 'Datasets'))).toBe(join(tmp, 'oname', 'Datasets', 'Dataset004_Hippocampus'));
  });

  it('F-C04: an id another dataset folder in nnUNet_raw already uses is refused, as nnU-Net does', async () => {
    const root = taskCopy('taken');
    const raw = join(tmp, 'taken', 'raw');
    mkdirSync(join(raw, 'Dataset004_Prostate'), { recursive: true });
    const r = await cli('convert-msd', root, '-o', raw);
    expect(r.code).toBe(1);
    expect(r.err).toEqual([
      `error: dataset id 4 is already taken in ${raw} by Dataset004_Prostate: nnU-Net finds a dataset by its id and would not know which one to use`,
      `hint: pass --id <n> with an id no folder in ${raw} uses (nnU-Net's -overwrite_id), or move Dataset004_Prostate away`,
    ]);
    expect(readdirSync(raw)).toEqual(['Dataset004_Prostate']);
    const ok = await cli('convert-msd', root, '-o', raw, '--id', '14');
    expect(ok.code, ok.err.join('\n')).toBe(0);
    expect(readdirSync(raw).sort()).toEqual(['Dataset004_Prostate', 'Dataset014_Hippocampus']);
    // the same dataset converted again is kept (resume), not a conflict with itself
    expect((await cli('convert-msd', root, '-o', raw, '--id', '14')).code).toBe(0);
  });
});
