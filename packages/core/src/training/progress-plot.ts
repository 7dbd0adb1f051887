import type { ProgressLog } from './checkpoint.js';

type Row = { epoch: number; series: string; value: number | null };

/** Long-form rows `{epoch, series, value}` of the log (non-finite values become gaps). */
function rows(log: ProgressLog): Row[] {
  const n = Math.min(log.train_losses.length, log.lrs.length, log.epoch_end_timestamps.length);
  const val = (v: number | null | undefined) => (v === null || v === undefined || !Number.isFinite(v) ? null : v);
  const out: Row[] = [];
  for (let e = 0; e < n; e++) {
    const add = (series: string, v: number | null | undefined) => out.push({ epoch: e, series, value: val(v) });
    add('loss_tr', log.train_losses[e]);
    add('loss_val', log.val_losses[e]);
    add('pseudo dice', log.mean_fg_dice[e]);
    add('pseudo dice (mov. avg.)', log.ema_fg_dice[e]);
    add('epoch duration', log.epoch_end_timestamps[e]! - log.epoch_start_timestamps[e]!);
    add('learning rate', log.lrs[e]);
  }
  return out;
}

/** One vega-lite line layer over some series, with its own y axis title and legend position. */
function lines(series: string[], colors: string[], dashes: number[][], yTitle: string, orient: 'left' | 'right', legendX: number, yZero = false) {
  return {
    transform: [{ filter: { field: 'series', oneOf: series } }],
    mark: { type: 'line', strokeWidth: 3 },
    encoding: {
      x: { field: 'epoch', type: 'quantitative', title: 'epoch', axis: { tickMinStep: 1 }, scale: { nice: false } },
      y: { field: 'value', type: 'quantitative', title: yTitle, axis: { orient }, scale: { zero: yZero } },
      color: { field: 'series', type: 'nominal', scale: { domain: series, range: colors }, legend: { title: null, orient: 'none', legendX, legendY: -40, direction: 'horizontal' } },
      strokeDash: { field: 'series', type: 'nominal', scale: { domain: series, range: dashes }, legend: null },
    },
  };
}

/**
 * The vega-lite specification of nnU-Net's `progress.png` (nnunetv2/training/logging/nnunet_logger.py
 * `plot_progress_png`): three panels over the epochs: train and validation loss (left axis) with the pseudo Dice
 * (dotted) and its moving average (right axis); epoch duration in seconds (from 0); learning rate.
 */
export function progressSpec(log: ProgressLog, width = 1400, height = 600): Record<string, unknown> {
  const panel = (layer: unknown[], independent = false) => ({ width, height, layer, ...(independent ? { resolve: { scale: { y: 'independent', color: 'independent', strokeDash: 'independent' } } } : {}) });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    background: 'white',
    padding: 40,
    config: { font: 'DejaVu Sans', axis: { labelFontSize: 16, titleFontSize: 18 }, legend: { labelFontSize: 16, labelLimit: 400 } },
    data: { values: rows(log) },
    spacing: 90,
    resolve: { scale: { color: 'independent', strokeDash: 'independent' }, legend: { color: 'independent', strokeDash: 'independent' } },
    vconcat: [
      panel([
        lines(['loss_tr', 'loss_val'], ['#1f4eb4', '#c0282d'], [[1, 0], [1, 0]], 'loss', 'left', 0),
        lines(['pseudo dice', 'pseudo dice (mov. avg.)'], ['#2a9d3a', '#2a9d3a'], [[2, 4], [1, 0]], 'pseudo dice', 'right', 300),
      ], true),
      panel([lines(['epoch duration'], ['#1f4eb4'], [[1, 0]], 'time [s]', 'left', 0, true)]),
      panel([lines(['learning rate'], ['#1f4eb4'], [[1, 0]], 'learning rate', 'left', 0)]),
    ],
  };
}

/**
 * nnU-Net's `progress.png` drawn with vega-lite (compiled to vega, rendered to SVG headless) and rasterised with
 * resvg (system fonts, DejaVu Sans preferred). Both are loaded on first use, so importing core stays light.
 * @returns PNG bytes
 */
export async function progressPng(log: ProgressLog): Promise<Uint8Array> {
  const [vega, vl, { Resvg }] = await Promise.all([import('vega'), import('vega-lite'), import('@resvg/resvg-js')]);
  const view = new vega.View(vega.parse(vl.compile(progressSpec(log) as never, { logger: vega.logger(vega.None) }).spec), { renderer: 'none', logLevel: vega.None });
  const svg = await view.toSVG();
  view.finalize();
  return new Resvg(svg, { font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' } }).render().asPng();
}
