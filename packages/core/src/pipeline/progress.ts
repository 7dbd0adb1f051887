/** How stages report progress and messages; the CLI implements it with cli-progress, tests with a no-op. */
export interface Reporter {
  log(message: string): void;
  /**
   * Start a bar for a stage with `total` steps, `value` of them already done (a resumed training fold: its remaining
   * time is estimated from the steps this run makes, not from the resumed ones).
   */
  start(label: string, total: number, value?: number): void;
  /** Advance the current bar to `value` (absolute), with an optional short status text. */
  update(value: number, status?: string): void;
  /** Change the current bar's total (a schedule a time budget shortened); optional, a reporter without it keeps the first total. */
  setTotal?(total: number): void;
  stop(): void;
}

/** A reporter that only logs (to `log`, default nothing). */
export function silentReporter(log: (s: string) => void = () => {}): Reporter {
  return { log, start() {}, update() {}, stop() {} };
}
