import { toFloat16 } from './gaussian.js';

/**
 * nnU-Net v2's half-precision sliding-window accumulation, step for step (nnunetv2/inference/predict_from_raw_data.py
 * `predict_sliding_window_return_logits` and `predict_logits_from_preprocessed_data`, v2.4.2; the recipe in
 * shared/models/README.md): per fold network, `predicted_logits` and `n_predictions` are float16 arrays; each tile's
 * float32 logits (mirror passes summed in float32 in nnU-Net's order, then divided by their count) are multiplied by
 * the float16 Gaussian widened to float32, added to the float16 sums in float32 and rounded back to float16, the
 * weights likewise; the division is float32 rounded to float16. Folds are summed in float16 and divided by their
 * count in float16. This reproduces nnU-Net's logits to the float16 rounding step (bit for bit when the network
 * outputs agree to float32); it is the `nnunet-fp16` accumulation of `predictPreprocessed`, not our default.
 */

/** What the accumulation needs from the sliding window: tiles, and how to predict them. */
export interface Fp16WindowJob<N> {
  networks: N[];
  /** Tile lower corners `[z, y, x]` in the padded volume, in accumulation order. */
  tiles: [number, number, number][];
  /** Padded volume `[z, y, x]` and tile `[z, y, x]`. */
  padded: [number, number, number];
  patch: [number, number, number];
  K: number;
  /** Gaussian (already float16-valued) of one tile, `[...patch]`. */
  gauss: Float32Array;
  /** Tiles per forward call. */
  tileBatch: number;
  /** Mirror passes per tile (the float32 sum is divided by this). */
  nPasses: number;
  /** Float32 sum over the mirror passes of one network for the tiles at `batch` (lower corners): `[n, K, ...patch]`. */
  predict: (net: N, batch: [number, number, number][]) => Promise<Float32Array>;
  onProgress?: (done: number, total: number) => void;
}

/** One network's half-precision sliding window over the padded grid: logits `[K, ...padded]` (float16 values). */
async function windowOneNetwork<N>(job: Fp16WindowJob<N>, net: N, progress: (n: number) => void): Promise<Float32Array> {
  const [Zp, Yp, Xp] = job.padded;
  const [pz, py, px] = job.patch;
  const NP = Zp * Yp * Xp;
  const tileN = pz * py * px;
  const acc = new Float32Array(job.K * NP);
  const wsum = new Float32Array(NP);
  const f = Math.fround;
  for (let t0 = 0; t0 < job.tiles.length; t0 += job.tileBatch) {
    const batch = job.tiles.slice(t0, t0 + job.tileBatch);
    const out = await job.predict(net, batch);
    batch.forEach(([z0, y0, x0], b) => {
      for (let z = 0; z < pz; z++)
        for (let y = 0; y < py; y++) {
          const g0 = (z * py + y) * px;
          const dst0 = ((z0 + z) * Yp + y0 + y) * Xp + x0;
          for (let x = 0; x < px; x++) wsum[dst0 + x] = toFloat16(f(wsum[dst0 + x]! + job.gauss[g0 + x]!));
          for (let k = 0; k < job.K; k++) {
            const src = (b * job.K + k) * tileN + g0;
            const dst = k * NP + dst0;
            for (let x = 0; x < px; x++) {
              const p = f(f(out[src + x]! / job.nPasses) * job.gauss[g0 + x]!);
              acc[dst + x] = toFloat16(f(acc[dst + x]! + p));
            }
          }
        }
    });
    progress(batch.length);
  }
  for (let i = 0; i < acc.length; i++) acc[i] = toFloat16(f(acc[i]! / wsum[i % NP]!));
  return acc;
}

/**
 * Run nnU-Net's float16 sliding-window accumulation (see module doc) for every network and combine the folds as
 * nnU-Net does. Returns logits `[K, ...padded]` (float16 values in a Float32Array), not yet cropped.
 */
export async function accumulateFp16<N>(job: Fp16WindowJob<N>): Promise<Float32Array> {
  let total: Float32Array | null = null;
  let done = 0;
  const all = job.tiles.length * job.networks.length;
  const progress = (n: number) => {
    done += n;
    job.onProgress?.(done, all);
  };
  for (const net of job.networks) {
    const logits = await windowOneNetwork(job, net, progress);
    if (!total) total = logits;
    else for (let i = 0; i < total.length; i++) total[i] = toFloat16(Math.fround(total[i]! + logits[i]!));
  }
  const n = job.networks.length;
  if (n > 1) for (let i = 0; i < total!.length; i++) total![i] = toFloat16(Math.fround(total![i]! / n));
  return total!;
}
