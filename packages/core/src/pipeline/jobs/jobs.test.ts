import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { JobGraph, RunSpec } from '../../contracts/jobs.js';
import type { Plans } from '../../contracts/plans.js';
import type { Dataset } from '../../dataset/types.js';
import { resolveBudget } from '../presets.js';
import { decathlonJobGraph, jobIdPart, runKeyOf } from './graph.js';
import { readJobGraph, sbatchPath, selectJobs, writeSlurmScripts } from './slurm.js';
import { checkRunFolderVisible, RunFolderNotVisibleError } from './execute.js';
import { writeJson } from '../json-io.js';

const tmp: string[] = [];
afterAll(() => tmp.forEach((d) => rmSync(d, { recursive: true, force: true })));

const cfg = (previous_stage?: string) => ({ data_identifier: 'x', previous_stage }) as unknown;
const plans = {
  configurations: { '3d_fullres': cfg(), '3d_lowres': cfg(), '3d_cascade_fullres': cfg('3d_lowres') },
} as unknown as Plans;
const ds = (root: string, test: number, labelled: boolean) =>
  ({
    root,
    json: {},
    cases: ['a', 'b', 'c'].map((id) => ({ id, images: [], label: 'l' })),
    testCases: Array.from({ length: test }, (_, i) => ({ id: `t${i}`, images: [], label: labelled ? 'l' : undefined })),
  }) as unknown as Dataset;

function spec(out: string, configurations: string[], folds: number[]): RunSpec {
  return { out, dataset: '/data/Dataset900_X', budget: resolveBudget('tiny'), backend: 'auto', configurations, folds };
}

describe('decathlon job graph', () => {
  it('waves: preprocess by (data configuration, case), train/validate by (configuration, fold) per depth, find-best, predict by case', () => {
    const g = decathlonJobGraph(spec('/runs/r', ['3d_fullres', '3d_lowres', '3d_cascade_fullres'], [0, 1]), ds('/nowhere', 2, false), plans);
    expect(g.waves.map((w) => w.map((j) => j.id))).toEqual([
      ['pp.3d_fullres.a', 'pp.3d_fullres.b', 'pp.3d_fullres.c', 'pp.3d_lowres.a', 'pp.3d_lowres.b', 'pp.3d_lowres.c'],
      ['train.3d_fullres.0', 'train.3d_fullres.1', 'train.3d_lowres.0', 'train.3d_lowres.1'],
      ['val.3d_fullres.0', 'val.3d_fullres.1', 'val.3d_lowres.0', 'val.3d_lowres.1'],
      ['train.3d_cascade_fullres.0', 'train.3d_cascade_fullres.1'],
      ['val.3d_cascade_fullres.0', 'val.3d_cascade_fullres.1'],
      ['find-best'],
      ['predict.t0', 'predict.t1'],
    ]);
    // no labelsTs folder: no evaluation job
    expect(g.waves.flat().some((j) => j.kind === 'evaluate')).toBe(false);
    expect(g.waves[3]![0]).toEqual({ id: 'train.3d_cascade_fullres.0', kind: 'train', configuration: '3d_cascade_fullres', fold: 0 });
  });

  it('run keys are deterministic and change with the run folder or the budget; ids stay queue-safe', () => {
    const a = spec('/runs/r', ['3d_fullres'], [0]);
    expect(runKeyOf(a)).toBe(runKeyOf({ ...a }));
    expect(runKeyOf(a)).toMatch(/^[0-9a-f]{16}$/);
    expect(runKeyOf({ ...a, out: '/runs/s' })).not.toBe(runKeyOf(a));
    expect(runKeyOf({ ...a, budget: { ...a.budget, epochs: 5 } })).not.toBe(runKeyOf(a));
    expect(jobIdPart('case_001')).toBe('case_001');
    expect(jobIdPart('ca:se.1')).toMatch(/^ca_se_1_[0-9a-f]{6}$/);
    expect(jobIdPart('ca:se.1')).not.toBe(jobIdPart('ca_se.1'));
  });
});

describe('SLURM scripts', () => {
  it('preprocess job, an array with one task per (configuration, fold) per depth, the final job, chained with afterok', () => {
    const out = mkdtempSync(join(tmpdir(), 'nnunet-slurm-'));
    tmp.push(out);
    const g: JobGraph = decathlonJobGraph(spec(out, ['3d_fullres', '3d_lowres', '3d_cascade_fullres'], [0, 1, 2]), ds('/nowhere', 1, false), plans);
    const s = writeSlurmScripts(g, 'npx nnunet-ts', { partition: 'gpu', time: '24:00:00', gpus: 1, mem: '32G', extra: ['--qos=high'] });
    expect(s.scripts.map((f) => f.slice(s.dir.length + 1))).toEqual(['preprocess.sbatch', 'train_0.sbatch', 'train_1.sbatch', 'final.sbatch']);
    const train0 = readFileSync(join(s.dir, 'train_0.sbatch'), 'utf8');
    expect(train0).toMatch(/^#!\/bin\/bash\n/);
    expect(train0).toContain('#SBATCH --array=0-5\n');
    expect(train0).toContain('#SBATCH --partition=gpu\n#SBATCH --time=24:00:00\n#SBATCH --mem=32G\n#SBATCH --gpus-per-task=1\n#SBATCH --qos=high\n');
    expect(train0).toContain(`#SBATCH --output=${join(s.dir, 'logs')}/%x_%A_%a.out\n`);
    expect(train0).toContain('JOBS=(train.3d_fullres.0,val.3d_fullres.0 train.3d_fullres.1,val.3d_fullres.1 train.3d_fullres.2,val.3d_fullres.2 ' +
      'train.3d_lowres.0,val.3d_lowres.0 train.3d_lowres.1,val.3d_lowres.1 train.3d_lowres.2,val.3d_lowres.2)\n');
    expect(train0).toContain(`npx nnunet-ts job -o '${out}' "\${JOBS[$SLURM_ARRAY_TASK_ID]}"\n`);
    const train1 = readFileSync(join(s.dir, 'train_1.sbatch'), 'utf8');
    expect(train1).toContain('#SBATCH --array=0-2\n');
    const pp = readFileSync(join(s.dir, 'preprocess.sbatch'), 'utf8');
    expect(pp).not.toContain('--gpus-per-task');
    expect(pp).not.toContain('--array');
    expect(pp).toContain(`npx nnunet-ts job -o '${out}' pp.3d_fullres.a,pp.3d_fullres.b,pp.3d_fullres.c,pp.3d_lowres.a,pp.3d_lowres.b,pp.3d_lowres.c\n`);
    expect(readFileSync(join(s.dir, 'final.sbatch'), 'utf8')).toContain(`npx nnunet-ts job -o '${out}' find-best,predict.t0\n`);
    const submit = readFileSync(s.submit, 'utf8');
    expect(submit).toContain('J0=$(sbatch --parsable preprocess.sbatch)\n');
    expect(submit).toContain('J1=$(sbatch --parsable --dependency=afterok:$J0 train_0.sbatch)\n');
    expect(submit).toContain('J2=$(sbatch --parsable --dependency=afterok:$J1 train_1.sbatch)\n');
    expect(submit).toContain('J3=$(sbatch --parsable --dependency=afterok:$J2 final.sbatch)\n');
    expect(statSync(s.submit).mode & 0o111).not.toBe(0);
    expect(existsSync(join(s.dir, 'logs'))).toBe(true);
    // the scripts' `job` verb reads the stored graph and selects jobs by id
    const back = readJobGraph(out);
    expect(back).toEqual(g);
    expect(selectJobs(back, ['val.3d_lowres.1,train.3d_lowres.1']).waves.map((w) => w.map((j) => j.id))).toEqual([['train.3d_lowres.1'], ['val.3d_lowres.1']]);
    expect(() => selectJobs(back, ['train.2d.0'])).toThrow(/unknown job id\(s\): train\.2d\.0/);
  });

  it('quotes a log path with spaces in the #SBATCH directive (sbatch splits directives at whitespace)', () => {
    expect(sbatchPath('/runs/a/logs/%x_%j.out')).toBe('/runs/a/logs/%x_%j.out');
    expect(sbatchPath('/runs/run with space/logs/%x_%j.out')).toBe('"/runs/run with space/logs/%x_%j.out"');
    expect(sbatchPath('/runs/say "hi"/x')).toBe('"/runs/say \\"hi\\"/x"');
    const out = mkdtempSync(join(tmpdir(), 'nnunet slurm space-'));
    tmp.push(out);
    const g: JobGraph = decathlonJobGraph(spec(out, ['3d_fullres'], [0]), ds('/nowhere', 1, false), plans);
    const s = writeSlurmScripts(g, 'npx nnunet-ts', {});
    expect(readFileSync(join(s.dir, 'train_0.sbatch'), 'utf8')).toContain(`#SBATCH --output="${join(s.dir, 'logs')}/%x_%A_%a.out"\n`);
  });
});

describe('workers refuse a run folder they cannot see', () => {
  it('missing folder, a folder without run.json, or run.json naming another dataset: RunFolderNotVisibleError naming the folder', () => {
    const out = mkdtempSync(join(tmpdir(), 'nnunet-visible-'));
    tmp.push(out);
    const run = spec(join(out, 'run'), ['3d_fullres'], [0]);
    expect(() => checkRunFolderVisible(run)).toThrow(RunFolderNotVisibleError);
    expect(() => checkRunFolderVisible(run)).toThrow(/cannot see the run folder \(it does not exist here\): submitter and workers must share the run folder at the same path/);
    writeJson(join(out, 'run', 'nnUNet_preprocessed', 'x.json'), {});
    expect(() => checkRunFolderVisible(run)).toThrow(/no .*run\.json: another folder of the same name\?/);
    writeJson(join(out, 'run', 'run.json'), { task: 't', dataset: '/elsewhere' });
    expect(() => checkRunFolderVisible(run)).toThrow(/names the dataset \/elsewhere, the job \/data\/Dataset900_X/);
    writeJson(join(out, 'run', 'run.json'), { task: 't', dataset: run.dataset });
    expect(() => checkRunFolderVisible(run)).toThrow(/the dataset folder does not exist here/);
    const ok = { ...run, dataset: out };
    writeJson(join(out, 'run', 'run.json'), { task: 't', dataset: out });
    expect(() => checkRunFolderVisible(ok)).not.toThrow();
  });
});
