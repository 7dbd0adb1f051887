import { afterEach, describe, expect, it, vi } from 'vitest';
import { terminalReporter } from './reporter.js';

/** Everything the reporter writes to stderr while `fn` runs, with stderr not a terminal (as in logs and CI). */
function capture(fn: () => void): string {
  const chunks: string[] = [];
  const tty = process.stderr.isTTY;
  Object.defineProperty(process.stderr, 'isTTY', { value: false, configurable: true });
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => (chunks.push(String(s)), true));
  try {
    fn();
  } finally {
    spy.mockRestore();
    Object.defineProperty(process.stderr, 'isTTY', { value: tty, configurable: true });
  }
  return chunks.join('');
}

describe('terminalReporter without a terminal', () => {
  afterEach(() => vi.restoreAllMocks());

  it('setTotal: a schedule the time budget shortened shows its new total', () => {
    const out = capture(() => {
      const r = terminalReporter();
      r.start('train 3d_fullres fold 0', 660);
      r.update(30, 'epoch 1/22');
      r.setTotal!(480);
      r.update(60, 'epoch 2/16');
      r.stop();
    });
    const lines = out.trim().split('\n');
    expect(lines[1]).toMatch(/^train 3d_fullres fold 0: 30\/660 epoch 1\/22(, ETA .+)?$/);
    expect(lines[2]).toMatch(/^train 3d_fullres fold 0: 60\/480 epoch 2\/16(, ETA .+)?$/);
  });

  it('a resumed fold: the bar starts at the steps done before, and the ETA counts only the steps made since', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(1_000_000);
      const out = capture(() => {
        const r = terminalReporter();
        // resumed at epoch 7 of 16 (6 x 16 iterations done before this run)
        r.start('train 3d_fullres fold 0', 256, 96);
        vi.setSystemTime(1_010_000);
        r.update(106, 'epoch 7/16');
      });
      const lines = out.trim().split('\n');
      expect(lines[0]).toBe('train 3d_fullres fold 0: started (256 steps, 96 done before)');
      // 10 steps in 10 s, 150 left: 2m 30s (counting the 96 resumed steps as made in those 10 s said 14s)
      expect(lines[1]).toBe('train 3d_fullres fold 0: 106/256 epoch 7/16, ETA 2m 30s');
    } finally {
      vi.useRealTimers();
    }
  });

  it('writes plain lines (start, every 10%, one per new epoch, done), no bar or cursor control characters', () => {
    const out = capture(() => {
      const r = terminalReporter();
      r.start('predict', 20);
      for (let i = 1; i <= 20; i++) r.update(i, `case_${i}`);
      r.stop();
      r.start('train 3d_fullres fold 0', 6);
      for (let i = 1; i <= 6; i++) r.update(i, `epoch ${Math.ceil(i / 3)}/2`);
      r.stop();
    });
    const lines = out.trim().split('\n');
    expect(lines[0]).toBe('predict: started (20 steps)');
    expect(lines.filter((l) => /^predict: \d+\/20 case_\d+(, ETA .+)?$/.test(l)).length).toBe(10);
    expect(lines.some((l) => l.startsWith('train 3d_fullres fold 0: 1/6 epoch 1/2'))).toBe(true);
    expect(lines.some((l) => l.startsWith('train 3d_fullres fold 0: 4/6 epoch 2/2'))).toBe(true);
    expect(lines.filter((l) => /: done in [\d.]+ s$/.test(l)).length).toBe(2);
    for (const c of ['\u001b', '\r', '\u2588', '\u2591']) expect(out).not.toContain(c); // no ANSI escapes, carriage returns or bar blocks
  });

  it('-q writes nothing', () => {
    const out = capture(() => {
      const r = terminalReporter({ quiet: true });
      r.start('predict', 3);
      r.update(1, 'a');
      r.log('hello');
      r.stop();
    });
    expect(out).toBe('');
  });
});
