/**
 * The invocation's deadline as an AbortSignal. Every step of an account gets it, so work stops
 * at the time budget (and the account goes back to the run for the next invocation) instead
 * of running on until the platform kills the invocation mid-write.
 */

/** Thrown by work that stopped because the invocation's deadline passed. */
export class DeadlineReached extends Error {
  readonly code = "time_budget";
  constructor(what: string) {
    super(
      `Stopped ${what} at the invocation's budget (SYNC_TIME_BUDGET_MS / SYNC_CPU_BUDGET_MS)`,
    );
    this.name = "DeadlineReached";
  }
}

/** A signal that aborts at `deadlineMs` (ms since epoch); `cancel` clears its timer. */
export function deadlineSignal(deadlineMs: number): { signal: AbortSignal; cancel: () => void } {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), Math.max(0, deadlineMs - Date.now()));
  return { signal: controller.signal, cancel: () => clearTimeout(timer) };
}

/** Throws DeadlineReached when `signal` has aborted. */
export function checkDeadline(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new DeadlineReached(what);
}
