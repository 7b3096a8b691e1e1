/**
 * What the rate limiter's two pacers share: the queue of callers waiting, the clock, and the
 * narrow view of the limiter a pacer works with. A pacer decides when the queue's head may go:
 * local-pacer.ts by a token bucket in this process, shared-slot-pacer.ts by send times claimed
 * from Postgres for every invocation.
 */

/** Time, injectable so tests drive the limiter without sleeping. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as number),
};

/** One caller waiting for its turn. */
export interface Waiter {
  enqueuedAt: number;
  resolve: (waitedMs: number) => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

/** The limiter as a pacer sees it. */
export interface PacingContext {
  readonly clock: Clock;
  /** FIFO; the pacer takes from its head. */
  readonly queue: Waiter[];
  /** Longest a queued request may wait for others to go in the same wake-up. */
  readonly maxBatchWaitMs: number;
  /** The rate in force at `now` (adaptive: below the ceiling after a signal). */
  rateAt(now: number): number;
  /** No request goes before this instant (an app-level rate-limit pause). */
  pausedUntil(): number;
  /** Lets a waiter go at `now`, counting its wait. */
  release(waiter: Waiter, now: number): void;
}

export interface Pacer {
  /** Whether a caller arriving at an empty queue may go at once (then counted as sent). */
  takeNow(now: number): boolean;
  /** A caller was queued. */
  queued(): void;
  /** The head's time changed (pause, slowdown, abort, new slots): re-arm the single timer. */
  reschedule(): void;
  /** An app-level pause of `ms` began (once per episode). */
  paused(ms: number): void;
  /** Shared mode: claims of send times, and slots dropped unused. */
  slotCounts(): { slotClaims: number; slotsDropped: number };
}

/** Lets `waiter` go: its abort listener is no longer needed. */
export function detach(waiter: Waiter): void {
  if (waiter.signal && waiter.onAbort) {
    waiter.signal.removeEventListener("abort", waiter.onAbort);
  }
}
