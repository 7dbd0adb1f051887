import { describe, expect, it } from 'vitest';
import { InitRng, gradCheck, type Tensor } from '@nnunet-ts/core';
import { dcAndBceLoss } from './index.js';

function rand(shape: number[], seed: number): Tensor {
  const r = new InitRng(seed);
  return { data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal() * 2), shape };
}

describe('DC_and_BCE_loss (regions, RULES.md §16)', () => {
  const regions = [[1, 2, 3], [2, 3], [3]]; // BraTS-like nested regions

  it('hand value: zero logits, one voxel of label 2', () => {
    const out = dcAndBceLoss({ batchDice: false, regions }).compute({ outputs: [{ data: new Float32Array(3), shape: [1, 3, 1, 1, 1] }], targets: [{ data: Int16Array.of(2), shape: [1, 1, 1, 1, 1] }] });
    // BCE = ln 2 for every element; Dice per region: in regions 0 and 1 (0.5*2+s)/(1+0.5+s), region 2: s/(0.5+s)
    const s = 1e-5;
    const dc = (2 * ((1 + s) / (1.5 + s)) + s / (0.5 + s)) / 3;
    expect(out.parts!.ce).toBeCloseTo(Math.LN2, 6);
    expect(out.loss).toBeCloseTo(Math.LN2 - dc, 6);
  });

  for (const [batchDice, ignoreLabel] of [[false, undefined], [true, 4]] as const)
    it(`gradient matches finite differences (batchDice ${batchDice}, ignore ${ignoreLabel})`, () => {
      const x = rand([2, 3, 1, 2, 3], 3);
      const r = new InitRng(5);
      const t = Int16Array.from({ length: 12 }, () => Math.floor(r.next() * (ignoreLabel ? 5 : 4)));
      const loss = dcAndBceLoss({ batchDice, regions, ignoreLabel });
      const inp = { outputs: [x], targets: [{ data: t, shape: [2, 1, 1, 2, 3] }] };
      const g = Float32Array.from(loss.compute(inp).grads[0]!.data);
      expect(gradCheck(() => loss.compute(inp).loss, x.data, g, Array.from({ length: 18 }, (_, i) => i * 2), 1e-3, 1e-3)).toBeLessThan(1e-2);
    });

  it('requires regions', () => {
    expect(() => dcAndBceLoss({ batchDice: false })).toThrow(/regions/);
  });
});
