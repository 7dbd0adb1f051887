/**
 * nnU-Net's Dice + CE (softmax) / Dice + BCE (regions) of one deep-supervision level in tfjs ops, value and
 * logit gradient in closed form (no autodiff), the same arithmetic as core's host backend:
 * Dice per channel `(2 I + smooth) / max(P + G + smooth, 1e-8)` over the batch or per sample, CE the mean over
 * annotated voxels, `dL/dp = A y + B` with `A = -2 / (terms den)`, `B = (2 I + smooth) / (terms den^2)`.
 */
import type { Tf, TfTensor } from './handle.js';

/** One level's options. */
export interface TfLevel {
  batchDice: boolean;
  doBackground: boolean;
  smooth: number;
  ignoreLabel: number | undefined;
  regions: number[][] | undefined;
  /** Deep supervision weight times loss scale, multiplies the gradient. */
  scale: number;
  /** nnU-Net `weight_ce` / `weight_dice` (default 1 each). */
  weightCe?: number;
  weightDice?: number;
}

/** `[loss, ce, dice]` (float32 `[3]`, ce and dice weighted) and the logit gradient of one level; logits `[n, K, ...]`, labels `[n, 1, ...]` int32. */
export function dcCeLevel(tf: Tf, logits: TfTensor, labels: TfTensor, o: TfLevel): { values: TfTensor; grad: TfTensor } {
  return tf.tidy(() => {
    const [n, K] = [logits.shape[0]!, logits.shape[1]!];
    const vox = logits.size / (n * K);
    const { add, sub, mul, div, sum, cast } = tf;
    const x = tf.reshape(logits, [n, K, vox]);
    const lab = tf.reshape(labels, [n, 1, vox]);
    const mask = o.ignoreLabel === undefined ? tf.onesLike(cast(lab, 'float32')) : cast(tf.notEqual(lab, o.ignoreLabel), 'float32');
    const y = targets(tf, lab, n, K, vox, o.regions);
    const toLast = (t: TfTensor): TfTensor => tf.transpose(t, [0, 2, 1]);
    const p = o.regions ? tf.sigmoid(x) : toLast(tf.softmax(toLast(x)));
    const ceTerm = o.regions
      ? add(sub(tf.relu(x), mul(x, y)), tf.log1p(tf.exp(tf.neg(tf.abs(x)))))
      : tf.neg(mul(toLast(tf.logSoftmax(toLast(x))), y));
    const ceDen = o.regions && o.ignoreLabel === undefined ? tf.scalar(n * K * vox) : tf.maximum(sum(mask), o.regions ? 1e-8 : 1);
    const ce = div(sum(mul(ceTerm, mask)), ceDen);
    const k0 = o.regions || o.doBackground ? 0 : 1;
    const axes = o.batchDice ? [0, 2] : [2];
    const pm = mul(p, mask);
    const I = sum(mul(pm, y), axes, true);
    const raw = add(add(sum(pm, axes, true), sum(mul(y, mask), axes, true)), o.smooth);
    const den = tf.maximum(raw, 1e-8);
    const num = add(mul(I, 2), o.smooth);
    const chMask = tf.reshape(tf.tensor1d(Array.from({ length: K }, (_, k) => (k >= k0 ? 1 : 0))), [1, K, 1]);
    const terms = Math.max(1, (K - k0) * (o.batchDice ? 1 : n));
    const dc = K > k0 ? div(sum(mul(div(num, den), chMask)), terms) : tf.scalar(0);
    const A = mul(div(tf.scalar(-2 / terms), den), chMask);
    const B = mul(div(mul(div(num, mul(den, den)), cast(tf.greater(raw, 1e-8), 'float32')), terms), chMask);
    const gp = mul(add(mul(A, y), B), mask);
    const ceGrad = div(mul(sub(p, y), mask), ceDen);
    const diceGrad = o.regions ? mul(mul(gp, p), sub(1, p)) : mul(p, sub(gp, sum(mul(p, gp), 1, true)));
    const [wCe, wDice] = [o.weightCe ?? 1, o.weightDice ?? 1];
    const grad = tf.reshape(mul(add(mul(ceGrad, wCe), mul(diceGrad, wDice)), o.scale), logits.shape);
    const [ceW, diceW] = [mul(ce, wCe), mul(tf.neg(dc), wDice)];
    return { values: tf.stack([add(ceW, diceW), ceW, diceW]), grad };
  });
}

/** One-hot `[n, K, vox]` of the labels (softmax), or region membership `label in regions[r]`. */
function targets(tf: Tf, lab: TfTensor, n: number, K: number, vox: number, regions: number[][] | undefined): TfTensor {
  if (regions) {
    const member = (r: number[]): TfTensor => tf.cast(r.map((l) => tf.equal(lab, l)).reduce((a, b) => tf.logicalOr(a, b)), 'float32');
    return tf.concat(regions.map(member), 1);
  }
  const clamped = tf.reshape(tf.clipByValue(lab, 0, K - 1), [n, vox]);
  return tf.cast(tf.transpose(tf.oneHot(tf.cast(clamped, 'int32'), K), [0, 2, 1]), 'float32');
}

/** Nearest-exact indices `min(in - 1, floor((i + 0.5) in / out))` (nnU-Net `DownsampleSegForDSTransform`). */
export function nearestIndices(nIn: number, nOut: number): number[] {
  return Array.from({ length: nOut }, (_, i) => Math.min(nIn - 1, Math.floor(((2 * i + 1) * nIn) / (2 * nOut))));
}
