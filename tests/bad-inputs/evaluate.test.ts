/**
 * Bad-input rows exercised through evaluation and ensembling: `computeMetrics`/`evaluateFolder` and the
 * `nnunet-ts evaluate` verb (B18), `ensembleProbabilities` (B47).
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupTemp, datasetJsonV2, put, tempDir, vol, writeNiftiFile } from './generate.js';
import { cli, core, errorText, isUserError, makeRegistry, need, thrown } from './harness.js';

afterAll(cleanupTemp);

type AnyFn = (...args: any[]) => any;
const fn = (name: string) => need<AnyFn>(core as never, name);

describe('evaluate rows', () => {
  it('B18: empty references give NaN (excluded from the mean, count reported), false positives give Dice 0, the summary never crashes', async () => {
    const dir = tempDir();
    const refDir = join(dir, 'ref');
    const predDir = join(dir, 'pred');
    const empty = vol([8, 8, 8], 'uint8', () => 0);
    const five = vol([8, 8, 8], 'uint8', (i, j, k) => (k === 0 && j === 0 && i < 5 ? 1 : 0));
    const cube = (dx: number) => vol([8, 8, 8], 'uint8', (i, j, k) => (i >= 2 + dx && i < 6 + dx && j >= 2 && j < 6 && k >= 2 && k < 6 ? 1 : 0));
    writeNiftiFile(join(refDir, 'a.nii.gz'), empty);
    writeNiftiFile(join(predDir, 'a.nii.gz'), empty);
    writeNiftiFile(join(refDir, 'b.nii.gz'), empty);
    writeNiftiFile(join(predDir, 'b.nii.gz'), five);
    writeNiftiFile(join(refDir, 'c.nii.gz'), cube(0));
    writeNiftiFile(join(predDir, 'c.nii.gz'), cube(1));
    const summary = await fn('evaluateFolder')(predDir, refDir, [1], makeRegistry(), {});
    const byName = (n: string) => summary.metric_per_case.find((c: { prediction_file: string }) => c.prediction_file.endsWith(n)).metrics['1'];
    expect(byName('a.nii.gz').Dice).toBeNaN();
    expect(byName('b.nii.gz').Dice).toBe(0);
    expect(byName('b.nii.gz').FP).toBe(5);
    expect(byName('b.nii.gz').n_ref).toBe(0);
    expect(byName('c.nii.gz').Dice).toBe(0.75); // 2*48 / (64 + 64)
    expect(summary.mean['1'].Dice).toBeCloseTo(0.375, 10);
    expect(summary.foreground_mean.Dice).toBeCloseTo(0.375, 10);
    // the CLI prints how many cases were left out of the mean because their reference is empty
    const dsFile = put(join(dir, 'dataset.json'), JSON.stringify(datasetJsonV2(['CT'], { background: 0, lesion: 1 }, 3)));
    const lines: string[] = [];
    const errs: string[] = [];
    const code = await need<AnyFn>(cli as never, 'runCli', '@nnunet-ts/cli')(['evaluate', '-p', predDir, '-r', refDir, '-d', dsFile, '-q'], { out: (s: string) => lines.push(s) }, (s: string) => errs.push(s));
    expect(code, errs.join('\n')).toBe(0);
    const out = lines.join('\n');
    expect(out, out).toMatch(/empty reference/i);
    expect(out).toMatch(/\b1\b[^\n]*(excluded|empty)|(excluded|empty)[^\n]*\b1\b/i);
  });

  it('B47: ensembling members with different label sets is refused (or aligned by name), never averaged by index', () => {
    const N = 4 * 4 * 4;
    const member = (name: string, labels: Record<string, number>, perClass: number[]) => {
      const probabilities = new Float32Array(perClass.length * N);
      perClass.forEach((p, k) => probabilities.fill(p, k * N, (k + 1) * N));
      return { name, labels, probabilities, shape: [perClass.length, 4, 4, 4] };
    };
    const ensemble = fn('ensembleProbabilities');
    const a = member('modelA', { background: 0, liver: 1, spleen: 2 }, [0.2, 0.5, 0.3]);
    const b = member('modelB', { background: 0, liver: 1 }, [0.4, 0.6]);
    let err: unknown;
    try {
      ensemble([a, b]);
    } catch (e) {
      err = e;
    }
    expect(err, 'members with 3 and 2 classes must not be averaged').toBeTruthy();
    expect(isUserError(err), errorText(err)).toBe(true);
    expect(errorText(err)).toMatch(/modelA/);
    expect(errorText(err)).toMatch(/modelB/);
    expect(errorText(err)).toMatch(/spleen/);
    // same class count, swapped names: refused, or aligned by name (liver = A[1] with B[2])
    const swapped = member('modelB', { background: 0, spleen: 1, liver: 2 }, [0.1, 0.2, 0.7]);
    let out: { probabilities: Float32Array; labels: Record<string, number> } | undefined;
    try {
      out = ensemble([a, swapped]);
    } catch (e) {
      expect(isUserError(e), errorText(e)).toBe(true);
      expect(errorText(e)).toMatch(/liver|spleen/);
      return;
    }
    const k = out!.labels['liver']!;
    expect(out!.probabilities[k * N]).toBeCloseTo((0.5 + 0.7) / 2, 6);
    const s = out!.labels['spleen']!;
    expect(out!.probabilities[s * N]).toBeCloseTo((0.3 + 0.2) / 2, 6);
    void thrown;
  });
});
