import { existsSync, readFileSync } from 'node:fs';
import { DataError } from '../util/errors.js';
import { parseJsonFile } from '../dataset/dataset-json.js';
import { parseJsonWithNaN, summaryToJson, writeFileAtomicSync } from '../evaluation/summary.js';

/** Read a JSON file (NaN allowed). @throws DataError naming the file (line/column for syntax errors). */
export function readJson<T>(file: string): T {
  if (!existsSync(file)) throw new DataError('file not found', { file });
  const text = readFileSync(file, 'utf8');
  try {
    return parseJsonWithNaN(text) as T;
  } catch {
    return parseJsonFile(text, file) as T;
  }
}

/** Write JSON atomically (NaN written as NaN, like Python's json). */
export function writeJson(file: string, value: unknown): void {
  writeFileAtomicSync(file, summaryToJson(value));
}

/** Read a JSON file when it exists and parses, else undefined (for resume checks). */
export function readJsonIfValid<T>(file: string): T | undefined {
  try {
    return existsSync(file) ? readJson<T>(file) : undefined;
  } catch {
    return undefined;
  }
}
