import cliProgress from 'cli-progress';
import { formatDuration, type Reporter } from '@nnunet-ts/core';

/**
 * Reporter for the terminal: messages on stderr, a cli-progress bar per long stage when stderr is a TTY, and a
 * start/end line per stage otherwise (logs stay readable in files and CI).
 */
export function terminalReporter(opts: { quiet?: boolean } = {}): Reporter {
  const tty = process.stderr.isTTY === true;
  let bar: cliProgress.SingleBar | null = null;
  let label = '';
  let t0 = 0;
  let total = 0;
  const write = (s: string) => {
    if (opts.quiet) return;
    if (bar) bar.stop();
    process.stderr.write(s + '\n');
    if (bar) bar.start(total, lastValue, { label, status: '' });
  };
  let lastValue = 0;
  let lastStatus = '';
  let lastDecile = 0;
  // steps done before this run (a resumed fold): the pace counts only the steps made since start
  let firstValue = 0;
  // remaining time from the pace so far (the bar computes its own)
  const eta = (v: number) => (v > firstValue && v < total ? `, ETA ${formatDuration(((Date.now() - t0) / 1000 / (v - firstValue)) * (total - v))}` : '');
  return {
    log: (m) => write(m),
    start(l, n, value = 0) {
      label = l;
      total = n;
      firstValue = value;
      lastValue = value;
      lastDecile = total ? Math.floor((10 * value) / total) : 0;
      lastStatus = '';
      t0 = Date.now();
      if (opts.quiet) return;
      if (tty) {
        bar = new cliProgress.SingleBar(
          { format: '{label} [{bar}] {value}/{total} {status} | {duration_formatted} ETA {eta_formatted}', hideCursor: true, stream: process.stderr },
          cliProgress.Presets.shades_classic,
        );
        bar.start(n, value, { label: l, status: '' });
      } else process.stderr.write(`${l}: started (${n} steps${value ? `, ${value} done before` : ''})\n`);
    },
    setTotal(n) {
      total = n;
      if (bar) bar.setTotal(n);
    },
    update(v, status) {
      lastValue = v;
      if (bar) bar.update(v, { status: status ?? '' });
      else if (!opts.quiet) {
        // without a terminal: a line per 10% of the stage, and one per new epoch status
        const decile = total ? Math.floor((10 * v) / total) : 0;
        const epochChange = !!status && status.startsWith('epoch') && status !== lastStatus;
        if (decile > lastDecile || epochChange) {
          lastDecile = decile;
          lastStatus = status ?? '';
          process.stderr.write(`${label}: ${v}/${total}${status ? ` ${status}` : ''}${eta(v)}\n`);
        }
      }
    },
    stop() {
      if (bar) {
        bar.stop();
        bar = null;
      }
      if (!opts.quiet) process.stderr.write(`${label}: done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    },
  };
}

