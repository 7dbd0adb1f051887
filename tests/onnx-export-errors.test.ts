/**
 * `export-onnx` fresh-user errors: a missing model folder, a file or an empty folder given as the model, an unknown
 * checkpoint kind, and a checkpoint kind the folds do not hold each give one error line naming the path (or the
 * choice) and a hint line with the fix, exit 1, no stack trace, and no output file. Checked before a compute backend
 * is picked (nothing about backends is printed).
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from '@nnunet-ts/cli';
import { sharedPath } from './helpers/paths.js';

const tmp = mkdtempSync(join(tmpdir(), 'nnunet-onnx-errors-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const MODEL_C = () => sharedPath('models', 'Dataset004_Hippocampus', 'nnUNetTrainer_1x5__nnUNetPlans__2d');

async function exportOnnx(...args: string[]): Promise<{ code: number; err: string[]; out: string }> {
  const err: string[] = [];
  const outFile = join(tmp, `out-${Math.random().toString(36).slice(2)}.onnx`);
  const code = await runCli(['export-onnx', ...args, '-o', outFile], { out: () => {} }, (s) => err.push(...s.split('\n').filter((l) => l.length)));
  expect(existsSync(outFile)).toBe(false);
  return { code, err, out: outFile };
}

function expectOneError(err: string[], error: string, hint: RegExp): void {
  expect(err).toHaveLength(2);
  expect(err[0]).toBe(`error: ${error}`);
  expect(err[1]).toMatch(hint);
  expect(err.join('\n')).not.toMatch(/^\s+at /m);
  expect(err.join('\n')).not.toMatch(/compute backend/);
}

describe('export-onnx: bad model folder or checkpoint give one clear error', () => {
  it('a model folder that does not exist: named, with what to pass', async () => {
    const dir = join(tmp, 'no-such-model');
    const r = await exportOnnx('-m', dir);
    expect(r.code).toBe(1);
    expectOneError(r.err, `${dir}: model folder does not exist`, /^hint: pass -m <out>\/nnUNet_results\/<trainer>__<plans>__<configuration> written by `nnunet-ts train` or `decathlon` \(or an nnU-Net v2 results folder\)$/);
  });

  it('a file, and a folder without plans.json / dataset.json', async () => {
    const file = join(tmp, 'model.pth');
    writeFileSync(file, 'x');
    let r = await exportOnnx('-m', file);
    expect(r.code).toBe(1);
    expectOneError(r.err, `${file}: the model path is a file, not a model folder`, /^hint: pass -m <out>\/nnUNet_results\//);
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    r = await exportOnnx('-m', empty);
    expect(r.code).toBe(1);
    expectOneError(r.err, `${join(empty, 'plans.json')}: not a trained model folder: plans.json missing`, /^hint: a model folder holds plans\.json and dataset\.json beside fold_<k>\//);
  });

  it('an unknown checkpoint kind: names it and the accepted ones', async () => {
    const r = await exportOnnx('-m', MODEL_C(), '--checkpoint', 'weird');
    expect(r.code).toBe(2); // a command-line value outside its set: usage error (packages/cli/README.md)
    expect(r.err.at(-1)).toBe('(see: nnunet-ts export-onnx --help)');
    expectOneError(r.err.slice(0, -1), "unknown checkpoint 'weird'", /^hint: use --checkpoint final, best, latest, or a file name such as checkpoint_best\.pth \(nnU-Net's -chk\)$/);
  });

  it('a checkpoint kind no fold holds: names the folder and the checkpoints it does hold', async () => {
    const r = await exportOnnx('-m', MODEL_C(), '--checkpoint', 'checkpoint_best.pth', '-q');
    expect(r.code).toBe(1);
    expectOneError(r.err, `${MODEL_C()}: no fold_<k>/checkpoint_best.json (or .pth) in the model folder; it holds fold_0/checkpoint_final.pth`, /^hint: use --checkpoint final$/);
  });
});
