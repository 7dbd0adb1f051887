import { describe, expect, it } from 'vitest';
import type { ComputeBackend, Conv3dParams } from '@nnunet-ts/core';
import { tfjsCpuPlugin } from '@nnunet-ts/backend-tfjs';
import { randomTensor, relativeError } from '@nnunet-ts/core/testing';
import { createCpuNativeBackend, loadAddon } from './native.js';

// cpu-native against tfjs's own cpu kernels (Conv3D, Conv3DBackpropInputV2, Conv3DBackpropFilterV2) on random
// inputs larger than the contract suite's, so that the GEMM blocking, K-blocking and tiling are all exercised.
const cases: { name: string; x: number[]; w: number[]; p: Conv3dParams }[] = [
  { name: '3x3x3 pad 1, 20->24 ch', x: [2, 20, 9, 10, 12], w: [24, 20, 3, 3, 3], p: { stride: [1, 1, 1], padding: [1, 1, 1] } },
  { name: '3x3x3 stride 2 pad 1', x: [1, 16, 11, 12, 10], w: [32, 16, 3, 3, 3], p: { stride: [2, 2, 2], padding: [1, 1, 1] } },
  { name: 'transposed-conv geometry 2x2x2 s2', x: [2, 8, 10, 8, 6], w: [16, 8, 2, 2, 2], p: { stride: [2, 2, 2], padding: [0, 0, 0] } },
  { name: 'deep: 40 ch, K > 512', x: [1, 40, 4, 5, 6], w: [48, 40, 3, 3, 3], p: { stride: [1, 1, 1], padding: [1, 1, 1] } },
  { name: 'bottleneck: 64 ch at 3x4x5 (parallel weight packing)', x: [2, 64, 3, 4, 5], w: [64, 64, 3, 3, 3], p: { stride: [1, 1, 1], padding: [1, 1, 1] } },
  { name: 'direct path, 2D 1x3x3', x: [2, 24, 1, 30, 34], w: [16, 24, 1, 3, 3], p: { stride: [1, 1, 1], padding: [0, 1, 1] } },
];

describe.skipIf(!loadAddon())('cpu-native vs tfjs-cpu kernels', () => {
  let native: ComputeBackend;
  let ref: ComputeBackend;
  it('creates both', async () => {
    native = createCpuNativeBackend();
    ref = await tfjsCpuPlugin().create();
  });
  for (const [i, c] of cases.entries()) {
    it(c.name, () => {
      const x = randomTensor(c.x, 11 + i);
      const w = randomTensor(c.w, 22 + i);
      const bias = randomTensor([c.w[0]!], 33 + i).data;
      const y = native.conv3d(x, w, bias, c.p);
      const yr = ref.conv3d(x, w, bias, c.p);
      expect(y.shape).toEqual(yr.shape);
      expect(relativeError(y.data, yr.data)).toBeLessThan(1e-4);
      const dy = randomTensor(y.shape, 44 + i);
      expect(relativeError(native.conv3dBackwardData(dy, w, c.x, c.p).data, ref.conv3dBackwardData(dy, w, c.x, c.p).data)).toBeLessThan(1e-4);
      expect(relativeError(native.conv3dBackwardFilter(x, dy, c.w, c.p).data, ref.conv3dBackwardFilter(x, dy, c.w, c.p).data)).toBeLessThan(1e-4);
    });
  }
});
