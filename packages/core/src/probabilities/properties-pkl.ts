import type { Geometry } from '../image/image.js';
import type { CaseProperties } from '../preprocessing/types.js';
import { PyInt, PyNdarray, PyTupleOf, type PickleData } from './pickle-writer.js';

/**
 * The properties dict nnU-Net v2 pickles beside each `--save_probabilities` output (`<case>.pkl`, written by
 * `export_prediction_from_logits`) and reads back in `nnUNetv2_ensemble` to write the merged segmentation:
 * `spacing` (list, array order `[z, y, x]`), `shape_before_cropping` (tuple), `bbox_used_for_cropping` (list of
 * `[start, end)` lists), `shape_after_cropping_and_before_resampling` (tuple), and the reader's geometry in both
 * forms nnU-Net's writers use: `sitk_stuff` (SimpleITKIO: spacing, origin, direction as ITK LPS tuples, x first) and
 * `nibabel_stuff.original_affine` (NibabelIO: the 4x4 RAS affine as a float64 ndarray). `dimensions` 2 (a 2D input
 * file, `headerDimensions`): `sitk_stuff` holds the 2D image's tuples (spacing and origin of x and y, the 2x2
 * direction), as SimpleITKIO stores a 2D image, so that nnU-Net's `write_seg` (and `nnUNetv2_ensemble`) writes the
 * segmentation 2D; the arrays keep their slice axis (`spacing` of 3 entries). The caller checks that the geometry is
 * a 2D one (origin z 0, z along z).
 */
export function nnunetPropertiesPickle(p: CaseProperties, g: Geometry, dimensions: 2 | 3 = 3): PickleData {
  const ints = (a: readonly number[]) => new PyTupleOf(a.map((v) => new PyInt(v)));
  const [sz, sy, sx] = g.spacing;
  const d = g.direction;
  // LPS affine columns = direction * spacing (index axes i=x, j=y, k=z); RAS flips the first two world rows
  const aff = new Float64Array(16);
  const sp = [sx, sy, sz];
  for (let r = 0; r < 3; r++) {
    const sign = r < 2 ? -1 : 1;
    for (let c = 0; c < 3; c++) aff[r * 4 + c] = sign * d[r * 3 + c]! * sp[c]!;
    aff[r * 4 + 3] = sign * g.origin[r]!;
  }
  aff[15] = 1;
  return {
    sitk_stuff: dimensions === 2
      ? { spacing: new PyTupleOf([sx, sy]), origin: new PyTupleOf([g.origin[0], g.origin[1]]), direction: new PyTupleOf([d[0]!, d[1]!, d[3]!, d[4]!]) }
      : { spacing: new PyTupleOf([sx, sy, sz]), origin: new PyTupleOf([...g.origin]), direction: new PyTupleOf([...d]) },
    nibabel_stuff: { original_affine: new PyNdarray([4, 4], aff) },
    spacing: [...p.spacing],
    shape_before_cropping: ints(p.shape_before_cropping),
    bbox_used_for_cropping: p.bbox_used_for_cropping.map(([a, b]) => [new PyInt(a), new PyInt(b)]),
    shape_after_cropping_and_before_resampling: ints(p.shape_after_cropping_and_before_resampling),
  };
}
