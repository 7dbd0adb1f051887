/**
 * `training_log_<date>.txt` and `progress.png` as nnU-Net writes them: the epoch lines we write from the logging
 * of nnU-Net's own checkpoint (model A, 16 epochs) equal, timestamps aside, the lines of the training log nnU-Net
 * wrote for that training; numbers print as Python prints them; the plot renders the same curves.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { NnunetTrainingLog, progressPng, progressSpec, pyFloat, readNnunetCheckpoint, toPlain, type PyDict, type ProgressLog } from '@nnunet-ts/core';
import { sharedPath } from './helpers/paths.js';

const FOLD = sharedPath('models', 'Dataset004_Hippocampus', 'nnUNetTrainer_16x30__nnUNetPlans__3d_fullres', 'fold_0');

function nnunetLogging(): ProgressLog {
  const file = join(FOLD, 'checkpoint_final.pth');
  const ck = readNnunetCheckpoint(readFileSync(file), file);
  return toPlain((ck.raw.root as PyDict).get('logging')!) as ProgressLog;
}

/** `ProgressLog` with the first `n` epochs. */
function upTo(log: ProgressLog, n: number): ProgressLog {
  return Object.fromEntries(Object.entries(log).map(([k, v]) => [k, (v as unknown[]).slice(0, n)])) as unknown as ProgressLog;
}

const stripTime = (l: string) => l.replace(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{6}: /, '');

describe("nnU-Net's training log", () => {
  it("the epoch blocks written from nnU-Net's logging equal nnU-Net's own training_log lines", () => {
    const log = nnunetLogging();
    expect(log.lrs.length).toBe(16);
    const dir = mkdtempSync(join(tmpdir(), 'tlog-'));
    const ours = new NnunetTrainingLog(dir, new Date(2026, 11, 6, 8, 13, 12));
    let best: number | null = null;
    for (let e = 0; e < 16; e++) {
      ours.epochStart(e, log.lrs[e]!);
      const ema = log.ema_fg_dice[e]!;
      const isBest = best === null || ema > best;
      if (isBest) best = ema;
      ours.epochEnd(upTo(log, e + 1), isBest ? ema : null);
    }
    expect(readdirSync(dir)).toEqual(['training_log_2026_12_6_08_13_12.txt']);
    const refName = readdirSync(FOLD).find((f) => f.startsWith('training_log_'))!;
    const ref = readFileSync(join(FOLD, refName), 'utf8').split('\n').map(stripTime);
    const from = ref.indexOf('Epoch 0 ') - 1;
    const to = ref.indexOf('Training done. ');
    const expected = ref.slice(from, to);
    const got = readFileSync(ours.file, 'utf8').split('\n').map(stripTime).filter((l, i, a) => i < a.length - 1);
    expect(expected.length).toBe(16 * 7 + expected.filter((l) => l.startsWith('Yayy')).length);
    expect(got).toEqual(expected);
  });

  it('prints floats as Python does (repr of np.round results)', () => {
    const xs = [0.00944, 1e-5, 0.3333, 123, -0.0104, 2.5e-7, 1e16, 0.1 + 0.2, 44.28, -0];
    const py = spawnSync('python3', ['-c', `print(' '.join(repr(float(x)) for x in [${xs.map((x) => (Object.is(x, -0) ? '-0.0' : String(x))).join(', ')}]))`], { encoding: 'utf8' });
    expect(py.stderr).toBe('');
    expect(xs.map(pyFloat).join(' ')).toBe(py.stdout.trim());
  });
});

describe("nnU-Net's progress.png", () => {
  it('three panels with the curves and labels of plot_progress_png, rendered to a PNG', async () => {
    const log = nnunetLogging();
    const spec = progressSpec(log) as { vconcat: { layer: { transform: { filter: { oneOf: string[] } }[]; encoding: { y: { title: string } } }[] }[]; data: { values: { series: string; value: number | null }[] } };
    expect(spec.vconcat.map((p) => p.layer.map((l) => l.transform[0]!.filter.oneOf))).toEqual([
      [['loss_tr', 'loss_val'], ['pseudo dice', 'pseudo dice (mov. avg.)']], [['epoch duration']], [['learning rate']],
    ]);
    expect(spec.vconcat.map((p) => p.layer.map((l) => l.encoding.y.title))).toEqual([['loss', 'pseudo dice'], ['time [s]'], ['learning rate']]);
    const durations = spec.data.values.filter((r) => r.series === 'epoch duration').map((r) => r.value!);
    expect(durations.length).toBe(16);
    expect(durations[0]).toBeCloseTo(44.28, 2);
    const png = Buffer.from(await progressPng(log));
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    expect(png.readUInt32BE(16)).toBeGreaterThan(1400);
    expect(png.length).toBeGreaterThan(50_000); // lines and text, not a blank page
  }, 60_000);
});
