import type { ProgressLog } from './checkpoint.js';

interface Series {
  name: string;
  color: string;
  values: number[];
}

function panel(y0: number, title: string, series: Series[], w: number, h: number): string {
  const all = series.flatMap((s) => s.values).filter((v) => Number.isFinite(v));
  if (!all.length) return `<text x="60" y="${y0 + 20}" font-size="12">${title}: no data</text>`;
  let lo = Math.min(...all);
  let hi = Math.max(...all);
  if (hi - lo < 1e-12) {
    lo -= 0.5;
    hi += 0.5;
  }
  const n = Math.max(2, ...series.map((s) => s.values.length));
  const px = (i: number) => 60 + (i * (w - 80)) / (n - 1);
  const py = (v: number) => y0 + 20 + (1 - (v - lo) / (hi - lo)) * (h - 40);
  const lines = series.map((s) => {
    const pts = s.values.map((v, i) => (Number.isFinite(v) ? `${px(i).toFixed(1)},${py(v).toFixed(1)}` : '')).filter(Boolean).join(' ');
    return `<polyline fill="none" stroke="${s.color}" stroke-width="1.5" points="${pts}"/>`;
  });
  const legend = series.map((s, i) => `<text x="${70 + i * 120}" y="${y0 + 14}" font-size="11" fill="${s.color}">${s.name}</text>`);
  return [
    `<rect x="60" y="${y0 + 20}" width="${w - 80}" height="${h - 40}" fill="none" stroke="#999"/>`,
    `<text x="4" y="${y0 + 24}" font-size="10">${hi.toPrecision(3)}</text>`,
    `<text x="4" y="${y0 + h - 20}" font-size="10">${lo.toPrecision(3)}</text>`,
    `<text x="${w - 20}" y="${y0 + h - 6}" font-size="10" text-anchor="end">epoch ${n - 1}</text>`,
    `<text x="4" y="${y0 + 12}" font-size="12" font-weight="bold">${title}</text>`,
    ...legend,
    ...lines,
  ].join('\n');
}

/**
 * nnU-Net's `progress.png` as a dependency-free SVG (spec 1.15 logging): losses with pseudo Dice and its EMA,
 * epoch duration, learning rate, one panel each, x = epoch.
 */
export function progressSvg(log: ProgressLog, w = 800, h = 600): string {
  const ph = h / 3;
  const durations = log.epoch_end_timestamps.map((t, i) => t - log.epoch_start_timestamps[i]!);
  const body = [
    panel(0, 'loss / pseudo Dice', [
      { name: 'train loss', color: '#1f77b4', values: log.train_losses },
      { name: 'val loss', color: '#d62728', values: log.val_losses.map((v) => v ?? NaN) },
      { name: 'pseudo dice', color: '#2ca02c', values: log.mean_fg_dice.map((v) => v ?? NaN) },
      { name: 'pseudo dice (EMA)', color: '#17becf', values: log.ema_fg_dice.map((v) => v ?? NaN) },
    ], w, ph),
    panel(ph, 'epoch duration (s)', [{ name: 'duration', color: '#9467bd', values: durations }], w, ph),
    panel(2 * ph, 'learning rate', [{ name: 'lr', color: '#ff7f0e', values: log.lrs }], w, ph),
  ];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" font-family="sans-serif">\n${body.join('\n')}\n</svg>\n`;
}
