/**
 * Optimiser kernels: gradient-norm clipping as `torch.nn.utils.clip_grad_norm_` after `GradScaler.unscale_`, and
 * PyTorch's SGD step (momentum, Nesterov, weight decay), guarded by the clip's finite flag. nnU-Net: SGD(lr 1e-2,
 * momentum 0.99, nesterov, weight_decay 3e-5), clip 12 (`nnUNetTrainer.train_step`).
 */
import { type Engine, type KernelSource, GRID_PARAMS, WG } from '../engine.js';
import { IS_FINITE, WG_REDUCE, elementwise, f, header, run1d, u } from './util.js';

/** Partial sums per tensor: at most this many workgroups each. */
const PARTS = 64;

// X *= inv; PS[slot + wg] = sum of squares of this workgroup's share
const SCALE_SQ: KernelSource = {
  key: 'scale-sumsq',
  code: `${header(['n', 'slot', 'inv: f32'], [{ name: 'X', write: true }, { name: 'PS', write: true }])}${WG_REDUCE}
@compute @workgroup_size(${WG})
fn main(${GRID_PARAMS}) {
  let t = lid.x;
  var s = 0.0;
  for (var i = wid.x * ${WG}u + t; i < p.n; i += ${WG}u * nwg.x) {
    let v = X[i] * p.inv;
    if (p.inv != 1.0) { X[i] = v; }
    s += v * v;
  }
  let r = red(s, t);
  if (t == 0u) { PS[p.slot + wid.x] = r; }
}`,
};

// R = [norm, finite, factor]
const FINISH: KernelSource = {
  key: 'clip-finish',
  code: `${header(['parts', 'maxNorm: f32'], [{ name: 'PS' }, { name: 'R', write: true }])}${WG_REDUCE}${IS_FINITE}
@compute @workgroup_size(${WG})
fn main(@builtin(local_invocation_id) lid: vec3<u32>) {
  var s = 0.0;
  for (var i = lid.x; i < p.parts; i += ${WG}u) { s += PS[i]; }
  let total = red(s, lid.x);
  if (lid.x == 0u) {
    let norm = sqrt(total);
    let fin = isFinite(total);
    R[0] = norm;
    R[1] = select(0.0, 1.0, fin);
    R[2] = select(1.0, min(1.0, p.maxNorm / (norm + 1e-6)), fin);
  }
}`,
};

const APPLY = elementwise('clip-apply', [], [{ name: 'X', write: true }, { name: 'R' }], 'X[i] = X[i] * R[2];');

const SGD = elementwise(
  'sgd',
  ['lr: f32', 'mom: f32', 'wd: f32', 'nesterov'],
  [{ name: 'Pm', write: true }, { name: 'Gr' }, { name: 'M', write: true }, { name: 'R' }],
  `if (R[1] == 0.0) { return; }
    let g = Gr[i] + p.wd * Pm[i];
    let b = p.mom * M[i] + g;
    M[i] = b;
    Pm[i] = Pm[i] - p.lr * select(b, g + p.mom * b, p.nesterov != 0u);`,
);

/**
 * Scales every gradient by `invScale`, then by `min(1, maxNorm / (norm + 1e-6))` when the total norm is finite.
 * `result` (>= 3 floats) receives `[norm, finite (1/0), factor]`.
 */
export function clipGradNorm(e: Engine, grads: { buf: GPUBuffer; n: number }[], maxNorm: number, invScale: number, result: GPUBuffer): void {
  const groups = grads.map((g) => Math.max(1, Math.min(PARTS, Math.ceil(g.n / WG))));
  const total = groups.reduce((a, b) => a + b, 0);
  const ps = e.alloc(total * 4);
  let slot = 0;
  grads.forEach((g, i) => {
    e.dispatch(SCALE_SQ, [g.buf, ps], [u(g.n), u(slot), f(invScale)], [groups[i]!]);
    slot += groups[i]!;
  });
  e.dispatch(FINISH, [ps, result], [u(total), f(maxNorm)], [1]);
  for (const g of grads) run1d(e, APPLY, g.n, [g.buf, result]);
  e.release(ps);
}

/** One SGD step on one parameter; `guard` holds `[.., finite]` at index 1 (a buffer of ones when unguarded). */
export function sgdStep(
  e: Engine, n: number, param: GPUBuffer, grad: GPUBuffer, mom: GPUBuffer, guard: GPUBuffer,
  o: { lr: number; momentum: number; nesterov: boolean; weightDecay: number },
): void {
  run1d(e, SGD, n, [param, grad, mom, guard], [f(o.lr), f(o.momentum), f(o.weightDecay), u(o.nesterov ? 1 : 0)]);
}
