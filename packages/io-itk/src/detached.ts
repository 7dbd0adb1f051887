import { DataError } from '@nnunet-ts/core';

/**
 * Which picked files make one NRRD or MetaImage image: formats by ending, sniffing, and the data file a detached
 * header (`.nhdr`, `.mhd`) names (NRRD `data file:`, MetaImage `ElementDataFile`; teem's NRRD format definition and
 * ITK's MetaIO). Pure functions on bytes, for the page.
 */

/** One file in memory: its name (no folder) and bytes. */
export interface MemoryFile {
  name: string;
  bytes: Uint8Array;
}

/** The image formats read and written in memory, by file ending (lower case). */
export const ITK_MEMORY_FORMATS = {
  '.nrrd': { format: 'nrrd', detached: false },
  '.nhdr': { format: 'nrrd', detached: true },
  '.mha': { format: 'meta', detached: false },
  '.mhd': { format: 'meta', detached: true },
} as const;

type Ending = keyof typeof ITK_MEMORY_FORMATS;

/** The format of a file name (`.nrrd`, `.nhdr`, `.mha`, `.mhd`), or undefined. */
export function itkMemoryFormat(name: string): (typeof ITK_MEMORY_FORMATS)[Ending] | undefined {
  const m = /\.(nrrd|nhdr|mha|mhd)$/i.exec(name);
  return m ? ITK_MEMORY_FORMATS[`.${m[1]!.toLowerCase()}` as Ending] : undefined;
}

/** True when `head` starts like a NRRD file (`NRRD000x` magic) or a MetaImage header (`Key = value` lines). */
export function sniffItkMemory(head: Uint8Array): 'nrrd' | 'meta' | undefined {
  const text = String.fromCharCode(...head.subarray(0, 64));
  if (/^NRRD000\d/.test(text)) return 'nrrd';
  if (/^\s*(ObjectType|NDims|Comment|TransformType|ObjectSubType)\s*=/.test(text)) return 'meta';
  return undefined;
}

/**
 * The data file a detached header names: MetaImage `ElementDataFile = <file>` (`LOCAL` means the data follows the
 * header: null), NRRD `data file: <file>` (or `datafile:`). Headers that name several files (MetaImage `LIST` or a
 * `%d` pattern, NRRD `LIST` / `<pattern> <min> <max> <step>`) are refused.
 * @throws DataError naming the header for a file list or a header without a data file field.
 */
export function detachedDataFile(header: MemoryFile): string | null {
  const text = new TextDecoder('latin1').decode(header.bytes.subarray(0, Math.min(header.bytes.length, 65536)));
  const format = itkMemoryFormat(header.name)?.format ?? sniffItkMemory(header.bytes);
  const line = format === 'meta' ? /^\s*ElementDataFile\s*=\s*(.*?)\s*$/m.exec(text) : /^data ?file:\s*(.*?)\s*$/m.exec(text);
  if (!line) {
    if (format === 'nrrd' && /\n\r?\n/.test(text)) return null; // attached NRRD data
    throw new DataError(`${header.name} has no ${format === 'meta' ? 'ElementDataFile' : "'data file:'"} line`, {
      file: header.name,
      hint: 'the header does not say where its voxels are; pick a complete .mha/.mhd or .nrrd/.nhdr file',
    });
  }
  const value = line[1]!;
  if (value.toUpperCase() === 'LOCAL') return null;
  if (/[\\/]/.test(value)) {
    throw new DataError(`${header.name} keeps its voxels in ${value}, in another folder; the page reads a data file beside its header`, {
      file: header.name,
      hint: 'convert the image to a single .nrrd or .mha file, or put the data file beside the header and name it without a folder',
    });
  }
  if (/^LIST\b/i.test(value) || /%\d*d/.test(value) || (format === 'nrrd' && /\s\d+\s+\d+/.test(value))) {
    throw new DataError(`${header.name} stores its voxels in a list of files (${value}); the page reads one data file per header`, {
      file: header.name,
      hint: 'convert the image to a single .nrrd or .mha file',
    });
  }
  return value;
}

/**
 * Groups picked files into images: each `.nhdr` / `.mhd` header takes the data file it names (`.raw`, `.zraw`,
 * `.raw.gz`, ...) from the picked files; every other file is an image of its own. Order of the images is that of
 * `files`.
 * @throws DataError naming the header whose data file was not picked, or a data file picked without its header.
 */
export function groupDetachedFiles<T extends MemoryFile>(files: T[]): { image: T; data: T[] }[] {
  const byName = new Map(files.map((f) => [f.name.replace(/^.*[\\/]/, ''), f]));
  const used = new Set<T>();
  const groups: { image: T; data: T[] }[] = [];
  for (const f of files) {
    const fmt = itkMemoryFormat(f.name);
    if (!fmt?.detached) continue;
    const dataName = detachedDataFile(f);
    if (dataName === null) {
      groups.push({ image: f, data: [] });
      continue;
    }
    const data = byName.get(dataName);
    if (!data) {
      throw new DataError(`${f.name} keeps its voxels in ${dataName}, which was not picked`, {
        file: f.name,
        hint: `pick or drop ${f.name} and ${dataName} together`,
      });
    }
    used.add(data);
    groups.push({ image: f, data: [data] });
  }
  const orphan = files.find((f) => /\.(z?raw|raw\.gz|img)$/i.test(f.name) && !used.has(f));
  if (orphan) {
    throw new DataError(`${orphan.name} is voxel data without its header`, {
      file: orphan.name,
      hint: 'pick or drop the .mhd (or .nhdr) header together with its data file',
    });
  }
  const rest = files.filter((f) => !used.has(f) && !itkMemoryFormat(f.name)?.detached).map((f) => ({ image: f, data: [] as T[] }));
  const order = new Map(files.map((f, i) => [f, i]));
  return [...groups, ...rest].sort((a, b) => order.get(a.image)! - order.get(b.image)!);
}
