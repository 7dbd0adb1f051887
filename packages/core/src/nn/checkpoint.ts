import type { Parameter } from '../contracts/network.js';
import { NnunetError } from '../util/errors.js';

const MAGIC = 'NNTSPAR1';

/**
 * Serialises parameter values: `NNTSPAR1`, uint32 LE header length, JSON header `[{name, shape}]` padded to a
 * multiple of 4 bytes, then the float32 LE values in parameter order.
 */
export function saveParameters(params: Parameter[]): Uint8Array {
  let header = new TextEncoder().encode(JSON.stringify(params.map((p) => ({ name: p.name, shape: p.shape }))));
  const pad = (4 - ((MAGIC.length + 4 + header.length) % 4)) % 4;
  if (pad) header = new Uint8Array([...header, ...new Array<number>(pad).fill(32)]);
  const nVals = params.reduce((a, p) => a + p.value.length, 0);
  const out = new Uint8Array(MAGIC.length + 4 + header.length + 4 * nVals);
  out.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(out.buffer).setUint32(MAGIC.length, header.length, true);
  out.set(header, MAGIC.length + 4);
  let off = MAGIC.length + 4 + header.length;
  const dv = new DataView(out.buffer);
  for (const p of params)
    for (let i = 0; i < p.value.length; i++, off += 4) dv.setFloat32(off, p.value[i]!, true);
  return out;
}

/**
 * Loads values written by `saveParameters` into `params`. Names, order and shapes must match exactly;
 * throws `NnunetError` naming the first mismatch otherwise (nothing is written then).
 */
export function loadParameters(params: Parameter[], bytes: Uint8Array): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < MAGIC.length + 4 || new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC)
    throw new NnunetError('not a parameter file (bad magic)', { hint: 'the checkpoint is corrupt or from another tool' });
  const hl = dv.getUint32(MAGIC.length, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, MAGIC.length + 4 + hl))) as { name: string; shape: number[] }[];
  if (header.length !== params.length) throw new NnunetError(`checkpoint has ${header.length} parameters, network has ${params.length}`, { hint: 'the checkpoint belongs to another plans/configuration' });
  header.forEach((h, i) => {
    const p = params[i]!;
    if (h.name !== p.name || h.shape.join(',') !== p.shape.join(','))
      throw new NnunetError(`parameter ${i}: checkpoint has ${h.name} [${h.shape}], network has ${p.name} [${p.shape}]`, { hint: 'the checkpoint belongs to another plans/configuration' });
  });
  const nVals = params.reduce((a, p) => a + p.value.length, 0);
  let off = MAGIC.length + 4 + hl;
  if (bytes.length !== off + 4 * nVals) throw new NnunetError(`checkpoint size ${bytes.length} != expected ${off + 4 * nVals} (truncated or corrupt)`, { hint: 'the file is truncated' });
  for (const p of params)
    for (let i = 0; i < p.value.length; i++, off += 4) p.value[i] = dv.getFloat32(off, true);
}
