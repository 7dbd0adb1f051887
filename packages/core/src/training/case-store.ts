import type { CaseSource, PreprocessedCaseData } from './case-source.js';

/** Byte size of a case's voxel buffers. */
function caseBytes(c: PreprocessedCaseData): number {
  return c.data.byteLength + (c.seg?.byteLength ?? 0);
}

/**
 * Bytes of case data a fold keeps in memory by default (`TrainFoldOptions.cacheBytes`): the training thread's store,
 * and the data-loading workers' stores together (each worker keeps `1 / workers` of it).
 */
export const DEFAULT_CASE_CACHE_BYTES = 2 * 1024 ** 3;

/**
 * Cases for the patch loader, kept in memory up to `budgetBytes` (least recently used evicted first) and re-read
 * from the source on demand beyond that, so large datasets train without holding every volume. `check` runs on every
 * case as it is loaded (throws for unusable cases). Content never depends on the cache, so results do not either.
 */
export class CaseStore {
  private readonly cache = new Map<string, PreprocessedCaseData>();
  private bytes = 0;

  constructor(
    private readonly source: CaseSource,
    private readonly budgetBytes = DEFAULT_CASE_CACHE_BYTES,
    private readonly check: (id: string, c: PreprocessedCaseData) => void = () => {},
  ) {}

  /** A case, from memory when cached. */
  async get(id: string): Promise<PreprocessedCaseData> {
    const hit = this.cache.get(id);
    if (hit) {
      this.cache.delete(id);
      this.cache.set(id, hit);
      return hit;
    }
    const c = await this.source.load(id);
    this.check(id, c);
    const b = caseBytes(c);
    if (b <= this.budgetBytes) {
      while (this.bytes + b > this.budgetBytes && this.cache.size) {
        const [old, v] = this.cache.entries().next().value as [string, PreprocessedCaseData];
        this.cache.delete(old);
        this.bytes -= caseBytes(v);
      }
      this.cache.set(id, c);
      this.bytes += b;
    }
    return c;
  }

  /**
   * Drop every case held in memory (later `get`s read them from the source again). The fold's store does this once
   * the data-loading workers, which keep their own copies, make the batches: the training thread then held a full
   * copy of the cases it no longer reads.
   */
  clear(): void {
    this.cache.clear();
    this.bytes = 0;
  }

  /** Bytes held in memory now. */
  get cachedBytes(): number {
    return this.bytes;
  }
}

/** Wrap in-memory cases as a store (tests, small datasets). */
export function storeOf(cases: Map<string, PreprocessedCaseData> | Record<string, PreprocessedCaseData>): CaseStore {
  const m = cases instanceof Map ? cases : new Map(Object.entries(cases));
  return new CaseStore({ load: async (id) => {
    const c = m.get(id);
    if (!c) throw new Error(`case '${id}' is not in the store`);
    return c;
  } }, Infinity);
}
