import { describe, expect, it } from 'vitest';
import { checkNormalizerContract, checkResamplerContract } from './contract.js';
import { defaultNormalizers } from './normalization/scheme.js';
import { defaultResampler } from './resampling/default-resampler.js';

describe('default plugins satisfy the contracts', () => {
  for (const n of defaultNormalizers()) {
    it(`normalizer ${n.name}`, () => expect(checkNormalizerContract(n)).toEqual([]));
  }
  it('resampler default', () => expect(checkResamplerContract(defaultResampler())).toEqual([]));
  it('a broken normalizer is reported', () => {
    const broken = { name: 'Broken', leavesOutsideMaskAtZero: true, normalize: ({ data }: { data: Float32Array }) => data.map(() => NaN) };
    expect(checkNormalizerContract(broken).length).toBeGreaterThan(0);
  });
});
