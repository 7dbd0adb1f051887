import { describe, expect, it } from 'vitest';
import type { NiftiImage } from '@nnunet-ts/io-nifti';
import { caseFromImages, orderChannelFiles, type InputSpec } from './check-input.js';

const img = (name: string, c: number, over: Partial<NiftiImage> = {}): NiftiImage => ({
  data: Float32Array.from({ length: c * 2 * 3 * 4 }, (_, i) => i),
  shape: [c, 2, 3, 4],
  spacing: [2, 1, 1],
  origin: [0, 0, 0],
  direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
  source: name,
  header: undefined as never,
  ...over,
});
const one: InputSpec = { inputChannels: 1, channelNames: ['MRI'], maxVoxels: 1000 };
const two: InputSpec = { inputChannels: 2, channelNames: ['T2', 'ADC'], maxVoxels: 1000 };

describe('caseFromImages', () => {
  it('stacks one 3D file per channel in channel order, keeping the first file geometry', () => {
    const files = orderChannelFiles([{ name: 'p_0001.nii.gz' }, { name: 'p_0000.nii.gz' }]);
    expect(files.map((f) => f.name)).toEqual(['p_0000.nii.gz', 'p_0001.nii.gz']);
    const c = caseFromImages([img('p_0000.nii.gz', 1), img('p_0001.nii.gz', 1)], two);
    expect(c.shape).toEqual([2, 2, 3, 4]);
    expect(c.data[24]).toBe(0);
    expect(c.spacing).toEqual([2, 1, 1]);
  });
  it('accepts one 4D file holding exactly the channels', () => {
    expect(caseFromImages([img('p.nii.gz', 2)], two).shape).toEqual([2, 2, 3, 4]);
  });
  it('refuses the wrong number of files, naming the channels', () => {
    expect(() => caseFromImages([img('a.nii', 1), img('b.nii', 1)], one)).toThrow('the model takes 1 channel (MRI), one 3D file per channel; got 2 files');
    expect(() => caseFromImages([img('a.nii', 1)], two)).toThrow('the model takes 2 channels (T2, ADC), one 3D file per channel; got 1 file');
    expect(() => caseFromImages([], one)).toThrow('no image chosen');
  });
  it('refuses a 4D file for a 3D one-channel model and a 4D file with the wrong volume count', () => {
    expect(() => caseFromImages([img('t.nii.gz', 3)], one)).toThrow('t.nii.gz is 4D (3 volumes) but the model takes 1 channel (MRI)');
    expect(() => caseFromImages([img('t.nii.gz', 3)], two)).toThrow('t.nii.gz is 4D (3 volumes) but the model takes 2 channels');
  });
  it('refuses channels on different grids with the differing field', () => {
    expect(() => caseFromImages([img('a.nii', 1), img('b.nii', 1, { spacing: [2, 1, 1.5] })], two)).toThrow('the channel files are on different grids: spacing a.nii: (1, 1, 2); b.nii: (1.5, 1, 2) mm (x, y, z)');
  });
  it('refuses an image over the memory bound', () => {
    expect(() => caseFromImages([img('big.nii', 1)], { ...one, maxVoxels: 10 })).toThrow("big.nii has 4x3x2 = 24 voxels; the page's memory bound is 10 voxels per channel");
  });
});
