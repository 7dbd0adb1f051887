/**
 * A small fuzzing engine over fast-check: each target turns a generated input (a valid file plus a list of
 * mutations) into an outcome, and the engine counts outcomes and keeps one example of each distinct finding.
 *
 * Outcomes: `ok` (read, and every check of the target passed), `user-error` (an `NnunetError` naming the file: the
 * expected answer to a broken file), and the findings: `crash` (any other exception: a stack trace for the user),
 * `silent` (read without error but the values differ from what the bytes say, or the geometry is not finite and
 * orthonormal), `unnamed` (a user error that does not name the file), `slow` (one input used more than `SLOW_MS`
 * of CPU time: a hang in the making).
 */
import fc from 'fast-check';
import { NnunetError } from '@nnunet-ts/core';

export type OutcomeKind = 'ok' | 'user-error' | 'crash' | 'silent' | 'unnamed' | 'slow';
export interface Outcome {
  kind: OutcomeKind;
  detail?: string;
}

export interface Target<T> {
  name: string;
  /** Inputs: valid files and mutated ones. */
  arbitrary: fc.Arbitrary<T>;
  /** Write the input, read it, check the result. Never throws: every exception is classified. */
  run(input: T): Promise<Outcome>;
  /** Bytes of the input file, for saving a finding as a fixture. */
  bytesOf?(input: T): { name: string; bytes: Uint8Array };
}

/**
 * An input that used more CPU time than this (this process, all threads) counts as a hang in the making. CPU time, not
 * wall time: on a shared machine at load 30 a nice'd process waits most of the wall time (one input of the seeded
 * DICOM series CI run took 39 s of wall time there).
 */
export const SLOW_MS = 30_000;

/** Classify an exception thrown while reading `file`. */
export function classifyError(e: unknown, file: string): Outcome {
  if (e instanceof NnunetError) {
    return e.message.includes(file) || e.file === file ? { kind: 'user-error' } : { kind: 'unnamed', detail: e.message.slice(0, 200) };
  }
  const err = e as Error;
  return { kind: 'crash', detail: `${err?.name ?? typeof e}: ${String(err?.message ?? e).slice(0, 200)}` };
}

export interface FuzzReport {
  target: string;
  runs: number;
  /** Wall-clock seconds of the run. */
  seconds: number;
  /** CPU seconds of this process during the run (user + system, all threads): the cost per input on a loaded machine. */
  cpuSeconds: number;
  counts: Record<OutcomeKind, number>;
  /** Distinct findings (by kind + first 80 characters of the detail) with a count and one example input. */
  findings: { kind: OutcomeKind; detail: string; count: number; example: unknown }[];
  /** An exception that escaped the target itself (a harness bug), which ended the run early. */
  harnessError?: string;
}

/**
 * Run `runs` inputs of `target` with `seed`. With `stopOnFinding`, the first finding fails the fast-check property
 * (which then shrinks it and reports the seed and path for a replay); otherwise every input runs and findings are
 * collected; `onFinding` hears each distinct finding as it happens (so a run stopped early keeps it). With `timeLimitMs`, the run stops after that long (fast-check's `interruptAfterTimeLimit`) and the report
 * holds the inputs run so far (`runs` below the count asked for).
 */
export async function fuzz<T>(
  target: Target<T>,
  runs: number,
  seed: number,
  stopOnFinding: boolean,
  onProgress?: (done: number, findings: number) => void,
  timeLimitMs?: number,
  onFinding?: (f: { kind: OutcomeKind; detail: string; example: unknown }, index: number, done: number) => void,
): Promise<FuzzReport> {
  const counts: Record<OutcomeKind, number> = { ok: 0, 'user-error': 0, crash: 0, silent: 0, unnamed: 0, slow: 0 };
  const found = new Map<string, { kind: OutcomeKind; detail: string; count: number; example: unknown }>();
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  let done = 0;
  let failure: unknown;
  try {
    await fc.assert(
      fc.asyncProperty(target.arbitrary, async (input) => {
        const cpu = process.cpuUsage();
        let o: Outcome;
        try {
          o = await target.run(input);
        } catch (e) {
          o = { kind: 'crash', detail: `escaped the target: ${(e as Error)?.stack?.slice(0, 300) ?? String(e)}` };
        }
        if (o.kind === 'ok' || o.kind === 'user-error') {
          const used = process.cpuUsage(cpu);
          const ms = (used.user + used.system) / 1000;
          if (ms > SLOW_MS) o = { kind: 'slow', detail: `${Math.round(ms)} CPU ms` };
        }
        counts[o.kind]++;
        if (++done % 1000 === 0) onProgress?.(done, found.size);
        if (o.kind === 'ok' || o.kind === 'user-error') return true;
        const key = `${o.kind}: ${(o.detail ?? '').replace(/\d+/g, 'N').slice(0, 80)}`;
        const f = found.get(key);
        if (f) f.count++;
        else {
          found.set(key, { kind: o.kind, detail: o.detail ?? '', count: 1, example: input });
          onFinding?.({ kind: o.kind, detail: o.detail ?? '', example: input }, found.size - 1, done);
        }
        return !stopOnFinding;
      }),
      { numRuns: runs, seed, endOnFailure: !stopOnFinding, verbose: 0, ...(timeLimitMs !== undefined ? { interruptAfterTimeLimit: Math.max(1, timeLimitMs), markInterruptAsFailure: false } : {}) },
    );
  } catch (e) {
    failure = e;
  }
  const cpu = process.cpuUsage(cpu0);
  const report: FuzzReport = { target: target.name, runs: done, seconds: (performance.now() - t0) / 1000, cpuSeconds: (cpu.user + cpu.system) / 1e6, counts, findings: [...found.values()] };
  if (failure && !stopOnFinding) report.harnessError = String((failure as Error).message).slice(0, 2000);
  if (failure && stopOnFinding) throw Object.assign(new Error(`${target.name}: ${String((failure as Error).message).slice(0, 3000)}`), { report });
  return report;
}

/** Interesting values for integer header fields. */
export const INT_EDGES = [0, 1, -1, 2, 3, 4, 7, 8, 16, 255, 256, 348, 352, 540, 544, 32767, -32768, 65535, 2 ** 31 - 1, -(2 ** 31)];
/** Interesting values for float header fields. */
export const FLOAT_EDGES = [0, -0, 1, -1, 0.5, 1e-30, 1e30, -1e30, 3.4e38, NaN, Infinity, -Infinity, 1e-45, 352, 2 ** 24 + 1];

/** A byte-level mutation: set a byte, flip a bit, truncate, or append. */
export type ByteMutation =
  | { op: 'set'; at: number; value: number }
  | { op: 'flip'; at: number; bit: number }
  | { op: 'truncate'; at: number }
  | { op: 'append'; bytes: number[] };

export const byteMutation: fc.Arbitrary<ByteMutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('append' as const), bytes: fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 64 }) }),
);

/** Apply byte mutations (positions taken modulo the current length). */
export function applyByteMutations(bytes: Uint8Array, ms: ByteMutation[]): Uint8Array {
  let b = new Uint8Array(bytes);
  for (const m of ms) {
    if (m.op === 'append') {
      const n = new Uint8Array(b.length + m.bytes.length);
      n.set(b);
      n.set(m.bytes, b.length);
      b = n;
    } else if (b.length > 0) {
      const at = m.at % b.length;
      if (m.op === 'set') b[at] = m.value;
      else if (m.op === 'flip') b[at] = b[at]! ^ (1 << m.bit);
      else b = b.slice(0, at);
    }
  }
  return b;
}

/** Geometry checks every successfully read image must pass (finite origin, positive spacing, orthonormal direction). */
export function geometryProblem(im: { shape: number[]; data: ArrayLike<number>; spacing: number[]; origin: number[]; direction: number[] }): string | null {
  if (im.shape.length !== 4 || im.shape.some((s) => !Number.isInteger(s) || s < 1)) return `bad shape ${JSON.stringify(im.shape)}`;
  if (im.data.length !== im.shape.reduce((a, b) => a * b, 1)) return `data length ${im.data.length} != shape ${im.shape.join('x')}`;
  if (im.spacing.some((s) => !(Number.isFinite(s) && s > 0))) return `spacing ${JSON.stringify(im.spacing)} is not finite and positive`;
  if (im.origin.some((o) => !Number.isFinite(o))) return `origin ${JSON.stringify(im.origin)} is not finite`;
  const d = im.direction;
  if (d.length !== 9 || d.some((v) => !Number.isFinite(v))) return `direction ${JSON.stringify(d)} is not finite`;
  for (let a = 0; a < 3; a++) {
    for (let b = 0; b < 3; b++) {
      let dot = 0;
      for (let r = 0; r < 3; r++) dot += d[r * 3 + a]! * d[r * 3 + b]!;
      if (Math.abs(dot - (a === b ? 1 : 0)) > 1e-3) return `direction ${JSON.stringify(d)} is not orthonormal`;
    }
  }
  return null;
}
