import { describe, expect, it } from 'vitest';
import type { Tensor } from '../contracts/backend.js';
import type { NetworkFactory } from '../contracts/network.js';
import type { ArchitectureSpec } from '../contracts/plans.js';
import { HostDeviceBackend } from '../device/host-backend.js';
import { createParameter, heNormalInit } from '../nn/parameter.js';
import { hostNetwork } from '../nn/host.js';
import { referenceBackend } from '../nn/reference-backend.js';
import { InitRng } from '../nn/rng.js';
import { deepSupervisionShapes, describeNetworkContract, heInitProblems, networkGradientProblems, parameterProblems } from './network-suite.js';

const device = new HostDeviceBackend(referenceBackend(), { name: 'reference' });
const architecture = { network_class_name: 'Linear', arch_kwargs: { strides: [[1, 1, 1], [2, 2, 2], [2, 2, 2]] } } as unknown as ArchitectureSpec;

/** `[n, c, z, y, x]` average-pooled by `k`. */
function pool(x: Tensor, k: number[]): Tensor {
  const [n, c, Z, Y, X] = x.shape as [number, number, number, number, number];
  const s = [Z / k[0]!, Y / k[1]!, X / k[2]!] as [number, number, number];
  const out = new Float32Array(n * c * s[0] * s[1] * s[2]);
  for (let p = 0; p < n * c; p++)
    for (let i = 0; i < Z * Y * X; i++) {
      const [z, y, w] = [Math.floor(i / (Y * X)), Math.floor(i / X) % Y, i % X];
      out[((p * s[0] + Math.floor(z / k[0]!)) * s[1] + Math.floor(y / k[1]!)) * s[2] + Math.floor(w / k[2]!)] += x.data[p * Z * Y * X + i]! / (k[0]! * k[1]! * k[2]!);
    }
  return { data: out, shape: [n, c, ...s] };
}

/** Per-voxel linear classifier per deep-supervision level; `bug` breaks one rule of the contract. */
function linearNet(bug?: 'bias-grad' | 'bias-init' | 'names'): NetworkFactory {
  return {
    name: `Linear${bug ?? ''}`,
    dims: 3,
    create(input) {
      const [C, K] = [input.inputChannels, input.numClasses];
      const rng = new InitRng(input.seed ?? 0);
      const heads = [0, 1].map((i) => {
        const w = createParameter(`heads.${bug === 'names' ? 0 : i}.weight`, [K, C, 1, 1, 1]);
        heNormalInit(w, rng);
        const b = createParameter(`heads.${i}.bias`, [K]);
        if (bug === 'bias-init') b.value.fill(0.1);
        return { w, b };
      });
      let levels = input.deepSupervision ? 2 : 1;
      let xs: Tensor[] = [];
      return hostNetwork(device, {
        parameters: heads.flatMap((h) => [h.w, h.b]),
        setDeepSupervision: (on) => void (levels = on ? 2 : 1),
        forward(x) {
          xs = [x, pool(x, [2, 2, 2])].slice(0, levels);
          return xs.map((xi, l) => {
            const V = xi.data.length / (xi.shape[0]! * C);
            const out = new Float32Array(xi.shape[0]! * K * V);
            for (let s = 0; s < xi.shape[0]!; s++)
              for (let k = 0; k < K; k++)
                for (let v = 0; v < V; v++) {
                  let a = heads[l]!.b.value[k]!;
                  for (let c = 0; c < C; c++) a += heads[l]!.w.value[k * C + c]! * xi.data[(s * C + c) * V + v]!;
                  out[(s * K + k) * V + v] = a;
                }
            return { data: out, shape: [xi.shape[0]!, K, ...xi.shape.slice(2)] };
          });
        },
        backward(gs) {
          gs.forEach((g, l) => {
            if (!g) return;
            const xi = xs[l]!;
            const V = g.data.length / (g.shape[0]! * K);
            for (let s = 0; s < g.shape[0]!; s++)
              for (let k = 0; k < K; k++)
                for (let v = 0; v < V; v++) {
                  const gv = g.data[(s * K + k) * V + v]!;
                  heads[l]!.b.grad[k]! += bug === 'bias-grad' ? 2 * gv : gv;
                  for (let c = 0; c < C; c++) heads[l]!.w.grad[k * C + c]! += gv * xi.data[(s * C + c) * V + v]!;
                }
          });
        },
      });
    },
  };
}

const build = (f: NetworkFactory) => f.create({ architecture, inputChannels: 2, numClasses: 3, deepSupervision: true, device, seed: 1 });

describe('network contract checks find broken networks', () => {
  it('deep-supervision shapes: level i is the input over the strides of stages 0..i', () => {
    expect(deepSupervisionShapes([8, 8, 8], [[1, 1, 1], [2, 2, 2], [2, 2, 2]])).toEqual([[8, 8, 8], [4, 4, 4]]);
    expect(deepSupervisionShapes([1, 16, 8], [[1, 1, 1], [1, 2, 1], [1, 2, 2], [1, 2, 2]])).toEqual([[1, 16, 8], [1, 8, 8], [1, 4, 4]]);
  });
  it('a wrong bias gradient is named by the gradient check; the right one passes', async () => {
    expect(await networkGradientProblems(linearNet(), { device, architecture })).toEqual([]);
    const bad = await networkGradientProblems(linearNet('bias-grad'), { device, architecture });
    expect(bad).toHaveLength(2);
    expect(bad[0]).toMatch(/^heads\.0\.bias: directional derivative/);
  });
  it('a bias not initialised to 0 and a repeated name are named', () => {
    expect(heInitProblems(build(linearNet()))).toEqual([]);
    expect(heInitProblems(build(linearNet('bias-init')))).toEqual(['heads.0.bias: bias not initialised to 0', 'heads.1.bias: bias not initialised to 0']);
    expect(parameterProblems(build(linearNet()))).toEqual([]);
    expect(parameterProblems(build(linearNet('names')))).toEqual(["parameter name 'heads.0.weight' empty or repeated"]);
  });
});

await describeNetworkContract(linearNet(), { device, architecture, parameterCount: 2 * (3 * 2 + 3) });
