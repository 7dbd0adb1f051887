import { existsSync, lstatSync, readdirSync, readlinkSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';

/** Endings that are the same format with or without gzip (accepted for each other by content; bad input B36). */
const ALT_ENDINGS: Record<string, string> = { '.nii.gz': '.nii', '.nii': '.nii.gz' };

/** Known multi-part endings, longest first, used to strip an ending from a file name. */
const KNOWN_ENDINGS = ['.nii.gz', '.nii', '.nrrd', '.nhdr', '.mha', '.mhd', '.gipl', '.tif', '.tiff', '.png', '.bmp'];

/** Strip `ending` (or its gz/non-gz twin) from a name; null when the name has neither. */
export function stripEnding(name: string, ending: string): { stem: string; alt: boolean } | null {
  if (name.endsWith(ending)) return { stem: name.slice(0, -ending.length), alt: false };
  const alt = ALT_ENDINGS[ending];
  if (alt && name.endsWith(alt) && !(alt === '.nii' && name.endsWith('.nii.gz'))) {
    return { stem: name.slice(0, -alt.length), alt: true };
  }
  return null;
}

/** The ending of a file name among known image endings (`.nii.gz` before `.gz`), else the last extension. */
export function endingOf(name: string): string {
  const lower = name.toLowerCase();
  for (const e of KNOWN_ENDINGS) if (lower.endsWith(e)) return e;
  const i = name.lastIndexOf('.');
  return i > 0 ? name.slice(i) : '';
}

/** Plain files of a folder, sorted; [] when the folder is absent. */
export function listFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((n) => {
      try {
        return statSync(join(dir, n)).isFile();
      } catch {
        return false;
      }
    })
    .sort();
}

/**
 * The target of `path` when it is a symbolic link whose target does not exist (a dangling link: the data it pointed to
 * was moved or deleted, or the link was copied without it), else undefined. `listFiles` skips such entries (they are
 * not files); callers report them.
 */
export function brokenLinkTarget(path: string): string | undefined {
  try {
    if (!lstatSync(path).isSymbolicLink() || existsSync(path)) return undefined;
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}

/** Names in `dir` that are dangling symbolic links (see `brokenLinkTarget`), sorted, with their targets. */
export function brokenLinks(dir: string): { name: string; target: string }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .sort()
    .flatMap((name) => {
      const target = brokenLinkTarget(join(dir, name));
      return target === undefined ? [] : [{ name, target }];
    });
}

/** The message for an image or label file that is a dangling symbolic link, with its target and the fix. */
export function brokenLinkMessage(kind: 'image' | 'label', target: string): string {
  return `${kind} is a broken symbolic link: its target ${target} does not exist; restore the target (or point the link at the file's new place), copy the file itself here, or remove the link${kind === 'image' ? " and the case's label" : " and the case's images"}`;
}

/** Case id of a path: the base name without its image ending, NFC-normalised. */
export function idOf(path: string, ending?: string): string {
  const name = basename(path);
  const s = ending ? stripEnding(name, ending) : null;
  const stem = s ? s.stem : name.slice(0, name.length - endingOf(name).length);
  return stem.normalize('NFC');
}

/** Split `CASE_XXXX` into case id and channel index; null without a 4-digit suffix. */
export function parseChannelStem(stem: string): { id: string; channel: number } | null {
  const m = /^(.*)_(\d{4})$/.exec(stem);
  return m ? { id: m[1]!.normalize('NFC'), channel: Number(m[2]) } : null;
}
