import { describe, expect, it } from 'vitest';
import { indexToWorld, type MedicalImage } from './image.js';
import { closestCanonical, readerWriterReorients, reorientImage, restoreOrientation } from './reorient.js';

/** LPS direction (row-major) from its three columns (index axes x, y, z). */
function fromColumns(cx: number[], cy: number[], cz: number[]): number[] {
  return [0, 1, 2].flatMap((r) => [cx[r]!, cy[r]!, cz[r]!]);
}

/** A [1, nz, ny, nx] image whose voxel values are their storage offsets. */
function image(direction: number[], shape: [number, number, number] = [3, 4, 5]): MedicalImage {
  const [nz, ny, nx] = shape;
  const data = new Float32Array(nz * ny * nx).map((_, i) => i);
  return { data, shape: [1, nz, ny, nx], spacing: [3, 2, 1.5], origin: [10, -20, 30], direction, header: { dim: [3] } };
}

/** Every voxel of `b` sits at the world position of the voxel of `a` with the same value (a's values are offsets). */
function expectSameWorld(a: MedicalImage, b: MedicalImage): void {
  const [nz, ny, nx] = b.shape.slice(1) as [number, number, number];
  const [az, ay, ax] = a.shape.slice(1) as [number, number, number];
  expect(nz * ny * nx).toBe(az * ay * ax);
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++) {
      for (let i = 0; i < nx; i++) {
        const v = b.data[(k * ny + j) * nx + i]!;
        const ai = v % ax, aj = Math.floor(v / ax) % ay, ak = Math.floor(v / (ax * ay));
        const wb = indexToWorld(b, [i, j, k]);
        const wa = indexToWorld(a, [ai, aj, ak]);
        for (let d = 0; d < 3; d++) expect(wb[d]).toBeCloseTo(wa[d]!, 9);
      }
    }
  }
}

const c30 = Math.cos(Math.PI / 6), s30 = Math.sin(Math.PI / 6);

describe('closestCanonical (nibabel io_orientation -> as_closest_canonical, in our LPS [x, y, z] terms)', () => {
  const cases: { name: string; direction: number[]; perm: number[]; flip: boolean[]; shape: number[]; spacing: number[] }[] = [
    // ITK's default LPS (identity): x points left, y posterior -> both reversed for RAS
    { name: 'LPS (identity)', direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], perm: [0, 1, 2], flip: [true, true, false], shape: [1, 3, 4, 5], spacing: [3, 2, 1.5] },
    // a RAS file (nibabel's canonical): nothing to do
    { name: 'RAS', direction: [-1, 0, 0, 0, -1, 0, 0, 0, 1], perm: [0, 1, 2], flip: [false, false, false], shape: [1, 3, 4, 5], spacing: [3, 2, 1.5] },
    // nibabel ornt [[1, 1], [2, -1], [0, 1]]: i -> A, j -> I (S reversed), k -> R
    { name: 'permuted ASR-like (i->A, j->I, k->R)', direction: fromColumns([0, -1, 0], [0, 0, -1], [-1, 0, 0]), perm: [2, 0, 1], flip: [false, false, true], shape: [1, 4, 5, 3], spacing: [2, 1.5, 3] },
    // axes stored as z, x, y swapped: i -> S, j -> L, k -> P
    { name: 'permuted (i->S, j->L, k->P)', direction: fromColumns([0, 0, 1], [1, 0, 0], [0, 1, 0]), perm: [1, 2, 0], flip: [true, true, false], shape: [1, 5, 3, 4], spacing: [1.5, 3, 2] },
    // oblique: LPS rotated 30 degrees about z, still closest to LPS
    { name: 'oblique 30 degrees about z', direction: fromColumns([c30, s30, 0], [-s30, c30, 0], [0, 0, 1]), perm: [0, 1, 2], flip: [true, true, false], shape: [1, 3, 4, 5], spacing: [3, 2, 1.5] },
    // oblique 60 degrees about z: x is closer to P, y closer to R
    { name: 'oblique 60 degrees about z', direction: fromColumns([s30, c30, 0], [-c30, s30, 0], [0, 0, 1]), perm: [1, 0, 2], flip: [false, true, false], shape: [1, 3, 5, 4], spacing: [3, 1.5, 2] },
  ];
  for (const t of cases) {
    it(`${t.name}: permutation, flips, shape, spacing; every voxel keeps its world position; restore is exact`, () => {
      const o = closestCanonical(t.direction);
      expect(o.perm).toEqual(t.perm);
      expect(o.flip).toEqual(t.flip);
      const a = image(t.direction);
      const b = reorientImage(a, o);
      expect(b.shape).toEqual(t.shape);
      expect(b.spacing).toEqual(t.spacing);
      expect(b.header).toBeUndefined();
      // the reoriented axes point along +R, +A, +S (LPS: -x, -y, +z): each column's dominant component is positive there
      for (let n = 0; n < 3; n++) expect([-1, -1, 1][n]! * b.direction[n * 3 + n]!).toBeGreaterThan(0.5);
      expectSameWorld(a, b);
      expect(Array.from(restoreOrientation(b.data as Float32Array, a.shape, o))).toEqual(Array.from(a.data));
    });
  }

  it('keeps the data type and every channel (labels int16, two channels)', () => {
    const d = fromColumns([0, 0, 1], [1, 0, 0], [0, 1, 0]);
    const one = image(d);
    const two: MedicalImage = { ...one, data: new Int16Array(2 * one.data.length).map((_, i) => i), shape: [2, 3, 4, 5] };
    const b = reorientImage(two);
    expect(b.data).toBeInstanceOf(Int16Array);
    expect(b.shape).toEqual([2, 5, 3, 4]);
    // channel 1 is channel 0 shifted by 60, in the same places
    for (let i = 0; i < 60; i++) expect(b.data[60 + i]).toBe(b.data[i]! + 60);
    expect(Array.from(restoreOrientation(b.data as Int16Array, two.shape, closestCanonical(d)))).toEqual(Array.from(two.data));
  });

  it('refuses a singular direction', () => {
    expect(() => closestCanonical([1, 0, 0, 1, 0, 0, 0, 0, 1])).toThrow(/is singular: no closest canonical orientation/);
  });
});

describe('readerWriterReorients', () => {
  it('NibabelIOWithReorient reorients; nnU-Net\'s other reader/writers and none do not; an unknown name gets a note', () => {
    const notes: string[] = [];
    const note = (s: string) => notes.push(s);
    expect(readerWriterReorients('NibabelIOWithReorient', 'plans.json', note)).toBe(true);
    for (const n of ['SimpleITKIO', 'NibabelIO', 'Tiff3DIO', 'NaturalImage2DIO', 'None', undefined]) expect(readerWriterReorients(n, 'plans.json', note)).toBe(false);
    expect(notes).toEqual([]);
    expect(readerWriterReorients('MyOwnIO', 'm/plans.json', note)).toBe(false);
    expect(notes).toEqual([
      "note: m/plans.json: image_reader_writer 'MyOwnIO' is not one of nnU-Net's (SimpleITKIO, NibabelIO, NibabelIOWithReorient, Tiff3DIO, NaturalImage2DIO); images are read by their file ending, in their own orientation (not reoriented)",
    ]);
  });
});
