import type { LevelLoss, LossInput, LossOutput, Tensor } from '@nnunet-ts/core';

/**
 * Deep supervision over the output levels (RULES.md §15-§16, nnU-Net's `DeepSupervisionWrapper`): the loss is
 * `sum_l w_l * level_l` over levels (highest resolution first; default all weight on level 0), `grads[l]` is
 * dL/dlogits of level l (null for weight-0 levels), `parts` the weighted `ce` and `dice`.
 * `level(output, target, scale, grad)` computes one level and writes `scale * dL/dlogits` into `grad`.
 * @throws Error (prefixed with `name`) when the targets, or the weights, are fewer than the outputs
 */
export function deepSupervisedLoss(
  name: string,
  input: LossInput,
  deepSupervisionWeights: number[] | undefined,
  weights: { ce: number; dice: number },
  level: (output: Tensor, target: { data: Int16Array; shape: number[] }, scale: number, grad: Float32Array) => LevelLoss,
): LossOutput {
  const L = input.outputs.length;
  if (input.targets.length !== L) throw new Error(`${name}: ${L} outputs but ${input.targets.length} targets`);
  const w = deepSupervisionWeights ?? [1, ...new Array<number>(L - 1).fill(0)];
  if (w.length < L) throw new Error(`${name}: ${w.length} deep supervision weights for ${L} outputs`);
  let loss = 0;
  let ce = 0;
  let dice = 0;
  const grads: (Tensor | null)[] = [];
  for (let l = 0; l < L; l++) {
    const o = input.outputs[l]!;
    if (!w[l]) {
      grads.push(null);
      continue;
    }
    const g = new Float32Array(o.data.length);
    const r = level(o, input.targets[l]!, w[l]!, g);
    loss += w[l]! * r.loss;
    ce += w[l]! * weights.ce * r.ce;
    dice += w[l]! * weights.dice * r.dice;
    grads.push({ data: g, shape: o.shape.slice() });
  }
  return { loss, grads, parts: { ce, dice } };
}
