import { describe, expect, it } from 'vitest';
import { compareGrids, directionRelation, rotationAngleDeg } from './geometry.js';
import { normalizeDatasetJson, parseJsonFile } from './dataset-json.js';

const rotZ = (deg: number) => {
  const c = Math.cos((deg * Math.PI) / 180), s = Math.sin((deg * Math.PI) / 180);
  return [c, -s, 0, s, c, 0, 0, 0, 1];
};
const grid = (o: Partial<{ spacing: [number, number, number]; origin: [number, number, number]; direction: number[] }> = {}) => ({
  shape: [1, 10, 20, 30],
  spacing: o.spacing ?? ([2, 0.5, 0.5] as [number, number, number]),
  origin: o.origin ?? ([10, -20, 5] as [number, number, number]),
  direction: o.direction ?? [1, 0, 0, 0, 1, 0, 0, 0, 1],
});

describe('compareGrids', () => {
  it('accepts 1e-8 float noise in spacing, origin and direction', () => {
    const b = grid({ spacing: [2 + 1e-8, 0.5, 0.5 - 1e-8], origin: [10 + 1e-8, -20, 5], direction: [1, 1e-8, 0, 0, 1, 0, 0, 0, 1] });
    expect(compareGrids(grid(), b)).toEqual([]);
  });
  it('rejects a 1 degree rotation and reports the angle', () => {
    const d = compareGrids(grid(), grid({ direction: rotZ(1) }));
    expect(d).toHaveLength(1);
    expect(d[0]).toMatch(/rotation 1 degrees/);
    expect(rotationAngleDeg([1, 0, 0, 0, 1, 0, 0, 0, 1], rotZ(10.1))).toBeCloseTo(10.1, 9);
  });
  it('names a mirrored axis as a flip, not as a rotation (tester: image x flipped against the label)', () => {
    const d = compareGrids(grid({ direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1] }), grid({ direction: [1, 0, 0, 0, -1, 0, 0, 0, 1] }));
    expect(d).toEqual(['direction (-1, 0, 0, 0, -1, 0, 0, 0, 1) vs (1, 0, 0, 0, -1, 0, 0, 0, 1) (x axis mirrored)']);
  });
  it('tells flips, flips with a rotation, reflections and proper rotations apart', () => {
    const I = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    expect(directionRelation(I, [-1, 0, 0, 0, -1, 0, 0, 0, 1])).toBe('x, y axes mirrored (together a 180 degree rotation)');
    expect(directionRelation(I, [1, 0, 0, 0, 1, 0, 0, 0, -1])).toBe('z axis mirrored');
    expect(directionRelation(I, [-1, 0, 0, 0, -1, 0, 0, 0, -1])).toBe('x, y, z axes mirrored');
    // z flipped, then a 30 degree rotation about z
    const r = rotZ(30);
    expect(directionRelation(I, [r[0]!, r[1]!, 0, r[3]!, r[4]!, 0, 0, 0, -1])).toBe('z axis mirrored, then rotation 30 degrees');
    // x and y swapped: determinant -1 with no axis reversed
    expect(directionRelation(I, [0, 1, 0, 1, 0, 0, 0, 0, 1])).toBe('a reflection (determinant -1 relation, e.g. swapped axes), not a rotation');
    expect(directionRelation(I, rotZ(90))).toBe('rotation 90 degrees');
    expect(directionRelation(rotZ(10), rotZ(55.5))).toBe('rotation 45.5 degrees');
  });
  it('rejects a half-voxel shift and reports the offset in mm', () => {
    const d = compareGrids(grid(), grid({ origin: [10.25, -20, 5] }));
    expect(d).toEqual(['origin (10, -20, 5) vs (10.25, -20, 5) mm (offset 0.25 mm)']);
  });
  it('reports shape and spacing in x, y, z order with both values', () => {
    const b = { ...grid({ spacing: [3, 0.5, 0.5] }), shape: [1, 11, 20, 30] };
    expect(compareGrids(grid(), b)).toEqual(['shape (30, 20, 10) vs (30, 20, 11) (x, y, z voxels)', 'spacing (0.5, 0.5, 2) vs (0.5, 0.5, 3) mm (x, y, z)']);
  });
});

describe('dataset.json', () => {
  it('reports JSON syntax errors with line and column', () => {
    const text = '{\n  "channel_names": {\n    "0": "CT",\n  }\n}';
    expect(() => parseJsonFile(text, '/x/dataset.json')).toThrow(/\/x\/dataset\.json: invalid JSON at line 4, column 3/);
  });
  it('converts MSD v1 keys with a note for each mapping', () => {
    const r = normalizeDatasetJson({ modality: { '0': 'CT' }, labels: { '0': 'background', '1': 'liver' }, numTraining: 2 }, 'd.json', '.nii.gz');
    expect(r.json).toMatchObject({ channel_names: { '0': 'CT' }, labels: { background: 0, liver: 1 }, file_ending: '.nii.gz' });
    expect(r.notes).toHaveLength(3);
  });
  it('lists missing keys and the legacy keys recognised', () => {
    expect(() => normalizeDatasetJson({ modality: { '0': 'CT' }, labels: { background: 0 } }, 'd.json')).toThrow(
      "d.json: dataset.json is missing required key(s) 'numTraining', 'file_ending'; recognised legacy form: 'modality' -> 'channel_names'",
    );
  });
});
