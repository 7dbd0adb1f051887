import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { foldProgress, foldsProgress } from './fold-progress.js';

const dir = mkdtempSync(join(tmpdir(), 'fold-progress-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (fold: number, kind: string, text: string) => {
  mkdirSync(join(dir, `fold_${fold}`), { recursive: true });
  writeFileSync(join(dir, `fold_${fold}`, `checkpoint_${kind}.json`), text);
};

describe("a fold's training progress from its checkpoints", () => {
  it('finished with checkpoint_final, else the epochs checkpoint_latest completed of the schedule (a deadline\'s shorter one), else none', () => {
    write(0, 'final', '{}');
    write(0, 'latest', JSON.stringify({ current_epoch: 16 }));
    write(1, 'latest', JSON.stringify({ current_epoch: 6, num_epochs: 16 }));
    write(2, 'latest', JSON.stringify({ current_epoch: 3, time_budget_stop: { epochs: 5, lastEpochIterations: 10, iterations: 50, plannedIterations: 160 } }));
    write(4, 'latest', '{"current_epoch": 6, trunc');
    expect(foldsProgress(dir, [0, 1, 2, 3, 4], 16)).toEqual([
      { fold: 0, finished: true, epochsDone: 16, epochs: 16 },
      { fold: 1, finished: false, epochsDone: 6, epochs: 16 },
      { fold: 2, finished: false, epochsDone: 3, epochs: 5 },
      // no checkpoint, or one that cannot be read: from the start
      { fold: 3, finished: false, epochsDone: 0, epochs: 16 },
      { fold: 4, finished: false, epochsDone: 0, epochs: 16 },
    ]);
    expect(foldProgress(join(dir, 'fold_1'), 1, 4)).toEqual({ fold: 1, finished: false, epochsDone: 4, epochs: 4 });
  });
});
