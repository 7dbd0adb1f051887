import type { Geometry } from '../image/image.js';
import { PyDict, PyTuple, toPlain, unpickle, type PyGlobal, type PyObject, type PyValue } from '../interop/pickle.js';
import { NnunetError } from '../util/errors.js';

/** A numpy array rebuilt from a pickle (float64 or float32 data only). */
interface PickledArray extends PyObject {
  shape?: number[];
  data?: Float64Array | Float32Array;
}

/**
 * The allow-listed globals numpy uses to pickle an ndarray (`_reconstruct(ndarray, (0,), b'b')`, then `BUILD` with
 * `(version, shape, dtype, fortran, raw bytes)`): only little-endian f8/f4 C-order arrays are rebuilt, as plain data.
 */
function numpyGlobals(file: string): Map<string, PyGlobal> {
  const g = new Map<string, PyGlobal>();
  for (const mod of ['numpy.core.multiarray', 'numpy._core.multiarray']) {
    const name = `${mod}._reconstruct`;
    g.set(name, {
      name,
      call: () => ({ pyKind: name }) as PickledArray,
      build: (obj, state) => {
        const [, shape, dtype, fortran, raw] = state instanceof PyTuple ? state.items : [];
        const descr = (dtype as { descr?: string } | undefined)?.descr;
        if (fortran !== false || !(raw instanceof Uint8Array) || !(shape instanceof PyTuple) || (descr !== 'f8' && descr !== 'f4')) {
          throw new NnunetError(`a pickled numpy array is not a C-order float64/float32 array (dtype ${descr ?? '?'})`, { file });
        }
        const copy = new Uint8Array(raw); // a copy with its own buffer (Buffer.slice would be a view)
        const a = obj as PickledArray;
        a.shape = shape.items.map(Number);
        a.data = descr === 'f8' ? new Float64Array(copy.buffer) : new Float32Array(copy.buffer);
        return a;
      },
    });
  }
  g.set('numpy.ndarray', { name: 'numpy.ndarray', asValue: { pyKind: 'numpy.ndarray' } });
  g.set('numpy.dtype', {
    name: 'numpy.dtype',
    call: (args) => ({ pyKind: 'numpy.dtype', descr: String(args[0]) }),
    build: (obj) => obj,
  });
  return g;
}

/**
 * Geometry of the arrays from nnU-Net's `sitk_stuff` (SimpleITKIO: ITK LPS, x first; a 2D image's tuples, 2 spacings
 * and origins and a 2x2 direction, give z spacing 1, origin z 0 and z along z, as the readers place a 2D image, and
 * `dimensions` 2) or `nibabel_stuff` (NibabelIO `original_affine`, NibabelIOWithReorient `reoriented_affine`: RAS
 * 4x4, columns i=x, j=y, k=z).
 */
function geometryOf(props: PyDict, file: string): Geometry & { dimensions: 2 | 3 } {
  const sitk = props.get('sitk_stuff');
  if (sitk instanceof PyDict) {
    const t = (k: string) => (toPlain(sitk.get(k) ?? null) as number[] | null) ?? [];
    const [sx, sy, sz] = t('spacing');
    const origin = t('origin');
    const direction = t('direction');
    if (sz !== undefined && origin.length === 3 && direction.length === 9) {
      return { spacing: [sz, sy!, sx!], origin: origin as [number, number, number], direction, dimensions: 3 };
    }
    if (sy !== undefined && sz === undefined && origin.length === 2 && direction.length === 4) {
      const [a, b, c, d] = direction as [number, number, number, number];
      return { spacing: [1, sy, sx!], origin: [origin[0]!, origin[1]!, 0], direction: [a, b, 0, c, d, 0, 0, 0, 1], dimensions: 2 };
    }
  }
  const nib = props.get('nibabel_stuff');
  // NibabelIOWithReorient keeps the arrays in the reoriented (RAS) frame: its affine places them
  const aff = nib instanceof PyDict ? ((nib.get('reoriented_affine') ?? nib.get('original_affine')) as PickledArray | undefined) : undefined;
  if (aff?.data && aff.shape?.join() === '4,4') {
    const a = aff.data;
    const sp = [0, 1, 2].map((c) => Math.hypot(a[c]!, a[4 + c]!, a[8 + c]!));
    // RAS -> LPS: flip the first two world rows; direction columns are the affine columns over their norms
    const direction = [0, 1, 2].flatMap((r) => [0, 1, 2].map((c) => (r < 2 ? -1 : 1) * a[r * 4 + c]! / sp[c]!));
    return { spacing: [sp[2]!, sp[1]!, sp[0]!], origin: [-a[3]!, -a[7]!, a[11]!], direction, dimensions: 3 };
  }
  throw new NnunetError("the properties file holds no image geometry ('sitk_stuff' or 'nibabel_stuff.original_affine')", {
    file, hint: 'use the .pkl that nnU-Net (or nnunet-ts predict --save-probabilities) wrote beside the .npz',
  });
}

/**
 * Read the properties `.pkl` nnU-Net writes beside each `--save_probabilities` output (see `nnunetPropertiesPickle`)
 * with the restricted unpickler (plain data and numpy float arrays only; nothing is imported or executed).
 * Returns the geometry of the case's input image, its dimensionality (2 for a 2D `sitk_stuff`, else 3) and the plain
 * properties (`spacing`, `shape_before_cropping`, ...).
 * @throws NnunetError naming `file` when it is not such a dict or holds no geometry
 */
export function readNnunetPropertiesPkl(bytes: Uint8Array, file: string): { geometry: Geometry; dimensions: 2 | 3; properties: Record<string, unknown> } {
  const v: PyValue = unpickle(bytes, { file, globals: numpyGlobals(file) });
  if (!(v instanceof PyDict)) throw new NnunetError('the properties file is not a dict as nnU-Net writes it', { file });
  const properties: Record<string, unknown> = {};
  for (const [k, x] of v) if (typeof k === 'string' && !k.endsWith('_stuff')) properties[k] = toPlain(x);
  const { dimensions, ...geometry } = geometryOf(v, file);
  return { geometry, dimensions, properties };
}
