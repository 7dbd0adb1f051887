import { promises as fs } from 'node:fs';
import { dirname } from 'node:path';

let counter = 0;

/** Write a file atomically: write `<path>.tmp-<pid>-<n>` in the same folder, then rename over `path`. */
export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  await fs.mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${counter++}`;
  await fs.writeFile(tmp, data);
  await fs.rename(tmp, path);
}
