import { readFileSync } from 'node:fs';
import { unzipSync, zipSync } from 'fflate';
import { writeFileAtomicSync } from '../evaluation/summary.js';
import { DataError } from '../util/errors.js';
import { readNpy, writeNpy, type NpyArray } from '../interop/npy.js';

/**
 * Write arrays as numpy's `np.savez_compressed` does: a zip (deflate) of `<name>.npy` members, written atomically.
 * Zip through fflate, `.npy` through `interop/npy`. nnU-Net's `--save_probabilities` writes `probabilities` float32 `[c, z, y, x]`.
 */
export function writeNpz(file: string, arrays: Record<string, NpyArray>, level: 0 | 1 | 6 | 9 = 6): void {
  const members: Record<string, [Uint8Array, { level: 0 | 1 | 6 | 9 }]> = {};
  for (const [name, a] of Object.entries(arrays)) members[`${name}.npy`] = [writeNpy(a), { level }];
  writeFileAtomicSync(file, zipSync(members, { mtime: new Date(1980, 0, 1) })); // fixed entry dates: reproducible bytes
}

/**
 * Read one array of an `.npz` (stored or deflated zip of `.npy` members).
 * @throws DataError naming the file when it is not a zip, lacks `<key>.npy`, or the array is unreadable.
 */
export function readNpz(file: string, key: string): NpyArray {
  let entries: Record<string, Uint8Array>;
  try {
    entries = unzipSync(readFileSync(file), { filter: (f) => f.name === `${key}.npy` });
  } catch (e) {
    throw new DataError(`${file}: not a readable .npz (zip) file: ${(e as Error).message}`, { cause: e });
  }
  const member = entries[`${key}.npy`];
  if (!member) throw new DataError(`${file}: no array '${key}' in the .npz`, { hint: `nnU-Net writes its probabilities under '${key}'` });
  return readNpy(member, `${file}:${key}.npy`);
}
