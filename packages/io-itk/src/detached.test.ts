import { describe, expect, it } from 'vitest';
import { detachedDataFile, groupDetachedFiles, itkMemoryFormat, sniffItkMemory } from './detached.js';

const file = (name: string, text: string) => ({ name, bytes: new TextEncoder().encode(text) });
const mhd = (data: string) => file('ct.mhd', `ObjectType = Image\nNDims = 3\nDimSize = 2 2 2\nElementType = MET_SHORT\nElementDataFile = ${data}\n`);
const nhdr = (data: string) => file('ct.nhdr', `NRRD0004\ntype: short\ndimension: 3\nsizes: 2 2 2\nencoding: raw\ndata file: ${data}\n`);

describe('NRRD / MetaImage file grouping (the page)', () => {
  it('knows the formats by ending and by content', () => {
    expect(itkMemoryFormat('a.NRRD')).toEqual({ format: 'nrrd', detached: false });
    expect(itkMemoryFormat('a.mhd')).toEqual({ format: 'meta', detached: true });
    expect(itkMemoryFormat('a.nii.gz')).toBeUndefined();
    expect(sniffItkMemory(new TextEncoder().encode('NRRD0005\ntype: float\n'))).toBe('nrrd');
    expect(sniffItkMemory(mhd('LOCAL').bytes)).toBe('meta');
    expect(sniffItkMemory(new Uint8Array(348))).toBeUndefined();
  });

  it('reads the data file a detached header names', () => {
    expect(detachedDataFile(mhd('ct.raw'))).toBe('ct.raw');
    expect(detachedDataFile(mhd('LOCAL'))).toBeNull();
    expect(detachedDataFile(nhdr('ct.raw.gz'))).toBe('ct.raw.gz');
    expect(detachedDataFile(file('a.nrrd', 'NRRD0004\ntype: short\nsizes: 2 2 2\n\n\u0000\u0000'))).toBeNull();
  });

  it('refuses file lists, data in another folder and headers without a data field', () => {
    expect(() => detachedDataFile(mhd('LIST'))).toThrow('ct.mhd stores its voxels in a list of files (LIST)');
    expect(() => detachedDataFile(mhd('slice%03d.raw 1 10 1'))).toThrow('a list of files');
    expect(() => detachedDataFile(nhdr('slice%03d.raw 1 10 1'))).toThrow('a list of files');
    expect(() => detachedDataFile(mhd('data/ct.raw'))).toThrow('ct.mhd keeps its voxels in data/ct.raw, in another folder');
    expect(() => detachedDataFile(file('x.mhd', 'ObjectType = Image\nNDims = 3\n'))).toThrow('x.mhd has no ElementDataFile line');
  });

  it('pairs a header with its data file and keeps the other files as images, in the picked order', () => {
    const raw = file('ct.raw', '\u0000'.repeat(16));
    const other = file('b_0001.nrrd', 'NRRD0004\n');
    const groups = groupDetachedFiles([raw, other, mhd('ct.raw')]);
    expect(groups.map((g) => [g.image.name, g.data.map((d) => d.name)])).toEqual([
      ['b_0001.nrrd', []],
      ['ct.mhd', ['ct.raw']],
    ]);
  });

  it('names a header whose data file was not picked, and data picked without its header', () => {
    expect(() => groupDetachedFiles([mhd('ct.zraw')])).toThrow('ct.mhd keeps its voxels in ct.zraw, which was not picked');
    expect(() => groupDetachedFiles([file('ct.raw', 'x')])).toThrow('ct.raw is voxel data without its header');
  });
});
