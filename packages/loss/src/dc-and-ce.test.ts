import { describe, expect, it } from 'vitest';
import { HostDeviceBackend, InitRng, Registry, gradCheck, referenceBackend, type Tensor } from '@nnunet-ts/core';
import { dcAndBceLoss, dcAndCeLoss, registerDefaults } from './index.js';

function rand(shape: number[], seed: number): Tensor {
  const r = new InitRng(seed);
  return { data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => r.normal() * 2), shape };
}
function labels(n: number, K: number, seed: number): Int16Array {
  const r = new InitRng(seed);
  return Int16Array.from({ length: n }, () => Math.floor(r.next() * K));
}

describe('DC_and_CE_loss (RULES.md §16)', () => {
  it('hand value: one voxel, two classes, zero logits', () => {
    const loss = dcAndCeLoss({ batchDice: false });
    const out = loss.compute({ outputs: [{ data: new Float32Array(2), shape: [1, 2, 1, 1, 1] }], targets: [{ data: Int16Array.of(1), shape: [1, 1, 1, 1, 1] }] });
    // CE = ln 2; p1 = 0.5: dc = (2*0.5 + 1e-5) / (1 + 0.5 + 1e-5)
    const dc = (1 + 1e-5) / (1.5 + 1e-5);
    expect(out.loss).toBeCloseTo(Math.LN2 - dc, 6);
    expect(out.parts!.ce).toBeCloseTo(Math.LN2, 6);
    expect(out.parts!.dice).toBeCloseTo(-dc, 6);
  });

  it('weightCe / weightDice scale the terms and their gradients (nnU-Net weight_ce, weight_dice)', () => {
    const x = rand([2, 3, 1, 3, 4], 5);
    const t = labels(24, 3, 6);
    const inp = { outputs: [x], targets: [{ data: t, shape: [2, 1, 1, 3, 4] }] };
    const base = dcAndCeLoss({ batchDice: false }).compute(inp);
    const w = dcAndCeLoss({ batchDice: false, weightCe: 2, weightDice: 0.5 });
    const out = w.compute(inp);
    expect(out.loss).toBeCloseTo(2 * base.parts!.ce! + 0.5 * base.parts!.dice!, 6);
    const g = Float32Array.from(out.grads[0]!.data);
    expect(gradCheck(() => w.compute(inp).loss, x.data, g, Array.from({ length: 24 }, (_, i) => i * 3), 1e-3, 1e-3)).toBeLessThan(1e-2);
  });

  it("the device form (contract dcCeLoss on a host device) equals compute, weights, deep supervision and regions included", async () => {
    const dev = new HostDeviceBackend(referenceBackend(), { name: 'cpu-js' });
    const xs = [rand([2, 3, 2, 2, 4], 7), rand([2, 3, 1, 1, 2], 8)];
    const ts = [labels(32, 3, 9), labels(4, 3, 10)];
    const inp = { outputs: xs, targets: [{ data: ts[0]!, shape: [2, 1, 2, 2, 4] }, { data: ts[1]!, shape: [2, 1, 1, 1, 2] }] };
    for (const l of [
      dcAndCeLoss({ batchDice: true, weightCe: 0.7, weightDice: 1.3, deepSupervisionWeights: [2 / 3, 1 / 3] }),
      dcAndBceLoss({ batchDice: false, weightCe: 1.5, weightDice: 0.25, deepSupervisionWeights: [2 / 3, 1 / 3], regions: [[1, 2], [2]] }),
    ]) {
      const xs2 = l.name === 'DC_and_BCE_loss' ? xs.map((x) => ({ data: x.data.subarray(0, (x.data.length * 2) / 3), shape: [2, 2, ...x.shape.slice(2)] })) : xs;
      const host = l.compute({ ...inp, outputs: xs2 });
      const r = dev.dcCeLoss(xs2.map((x) => dev.upload(x.data, x.shape)), inp.targets.map((t) => dev.uploadLabels(t.data, t.shape)), l.device!);
      const [loss, ce, dice] = await dev.read(r.values);
      expect(loss).toBeCloseTo(host.loss, 5);
      expect(ce).toBeCloseTo(host.parts!.ce!, 5);
      expect(dice).toBeCloseTo(host.parts!.dice!, 5);
      for (let i = 0; i < 2; i++) expect(Array.from(await dev.read(r.grads[i]!))).toEqual(Array.from(host.grads[i]!.data));
    }
  });

  it('near-perfect prediction gives about -1 (negative Dice term)', () => {
    const t = Int16Array.of(0, 1, 2, 1);
    const logits = new Float32Array(3 * 4);
    t.forEach((l, v) => (logits[l * 4 + v] = 30));
    const out = dcAndCeLoss({ batchDice: true }).compute({ outputs: [{ data: logits, shape: [1, 3, 1, 2, 2] }], targets: [{ data: t, shape: [1, 1, 1, 2, 2] }] });
    expect(out.loss).toBeCloseTo(-1, 5);
  });

  for (const batchDice of [false, true])
    for (const ignoreLabel of [undefined, 3])
      it(`gradient matches finite differences (batchDice ${batchDice}, ignore ${ignoreLabel})`, () => {
        const shape = [2, 3, 1, 3, 4];
        const x = rand(shape, 1);
        const t = labels(24, ignoreLabel === undefined ? 3 : 4, 2);
        const loss = dcAndCeLoss({ batchDice, ignoreLabel });
        const inp = { outputs: [x], targets: [{ data: t, shape: [2, 1, 1, 3, 4] }] };
        const g = Float32Array.from(loss.compute(inp).grads[0]!.data);
        const f = (): number => loss.compute(inp).loss;
        const idx = Array.from({ length: 24 }, (_, i) => i * 3);
        expect(gradCheck(f, x.data, g, idx, 1e-3, 1e-3)).toBeLessThan(1e-2);
        if (ignoreLabel !== undefined) t.forEach((l, v) => l === 3 && expect(g[Math.floor(v / 12) * 36 + (v % 12)]).toBe(0));
      });

  it('batch Dice differs from per-sample Dice and an all-ignored batch has CE 0', () => {
    const x = rand([2, 2, 1, 2, 2], 3);
    const t = Int16Array.of(1, 1, 0, 0, 0, 0, 0, 1);
    const tg = [{ data: t, shape: [2, 1, 1, 2, 2] }];
    const a = dcAndCeLoss({ batchDice: true }).compute({ outputs: [x], targets: tg });
    const b = dcAndCeLoss({ batchDice: false }).compute({ outputs: [x], targets: tg });
    expect(a.parts!.ce).toBeCloseTo(b.parts!.ce!, 10);
    expect(Math.abs(a.parts!.dice! - b.parts!.dice!)).toBeGreaterThan(1e-3);
    const all = dcAndCeLoss({ batchDice: true, ignoreLabel: 2 }).compute({ outputs: [x], targets: [{ data: new Int16Array(8).fill(2), shape: [2, 1, 1, 2, 2] }] });
    expect(all.parts!.ce).toBe(0);
    expect(all.grads[0]!.data.every((v) => v === 0)).toBe(true);
  });

  it('deep supervision: weighted sum, null gradients for weight-0 levels, gradients scaled', () => {
    const x0 = rand([1, 2, 1, 4, 4], 5);
    const x1 = rand([1, 2, 1, 2, 2], 6);
    const t0 = labels(16, 2, 7);
    const t1 = labels(4, 2, 8);
    const targets = [{ data: t0, shape: [1, 1, 1, 4, 4] }, { data: t1, shape: [1, 1, 1, 2, 2] }];
    const single = (x: Tensor, t: (typeof targets)[number]) => dcAndCeLoss({ batchDice: false }).compute({ outputs: [x], targets: [t] });
    const ds = dcAndCeLoss({ batchDice: false, deepSupervisionWeights: [0.75, 0.25] }).compute({ outputs: [x0, x1], targets });
    expect(ds.loss).toBeCloseTo(0.75 * single(x0, targets[0]!).loss + 0.25 * single(x1, targets[1]!).loss, 6);
    expect(ds.grads[1]!.data[0]).toBeCloseTo(0.25 * single(x1, targets[1]!).grads[0]!.data[0]!, 7);
    const z = dcAndCeLoss({ batchDice: false, deepSupervisionWeights: [1, 0] }).compute({ outputs: [x0, x1], targets });
    expect(z.grads[1]).toBeNull();
    expect(z.loss).toBeCloseTo(single(x0, targets[0]!).loss, 6);
  });

  it('registers DC_and_CE_loss and rejects bad labels', () => {
    const reg = new Registry();
    registerDefaults(reg);
    expect(reg.get('loss', 'DC_and_CE_loss').name).toBe('DC_and_CE_loss');
    const l = dcAndCeLoss({ batchDice: false });
    expect(() => l.compute({ outputs: [rand([1, 2, 1, 1, 2], 1)], targets: [{ data: Int16Array.of(0, 2), shape: [1, 1, 1, 1, 2] }] })).toThrow(/label 2/);
  });
});
