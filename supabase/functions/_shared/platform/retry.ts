/**
 * Retrying with capped exponential backoff and full jitter.
 *
 * Full jitter (a uniform delay in [0, min(cap, base * 2^n))) is what AWS measured as the
 * cheapest way for many clients to stop retrying in lockstep ("Exponential Backoff And
 * Jitter", AWS Architecture Blog, 2015). Which errors are retried, and how often, is the
 * caller's policy (`delayFor`); this module only runs the loop and keeps it bounded.
 */

export interface BackoffPolicy {
  /** The first retry waits up to this long. */
  baseDelayMs: number;
  /** No retry waits longer than this. */
  maxDelayMs: number;
}

// 250 ms doubling to 8 s: three retries fit in ~2 s on average, well inside a sync's budget.
export const DEFAULT_BACKOFF: BackoffPolicy = { baseDelayMs: 250, maxDelayMs: 8_000 };

/** The delay before retry number `retry` (1 for the first retry). */
export function backoffDelay(
  retry: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

export interface RetryOptions {
  /** Milliseconds to wait before trying again, or `undefined` to give up with this error. */
  delayFor(error: unknown, attempt: number): number | undefined;
  /** What to throw when giving up; defaults to the last error. */
  onGiveUp?(error: unknown, attempts: number): unknown;
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
  sleep?: (ms: number) => Promise<void>;
}

/** Runs `fn` until it succeeds or `delayFor` says stop. `attempt` counts from 1. */
export async function withRetry<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const sleep = options.sleep ?? delay;
  for (let attempt = 1;; attempt++) {
    try {
      return await fn(attempt);
    } catch (error) {
      const wait = options.delayFor(error, attempt);
      if (wait === undefined) throw options.onGiveUp ? options.onGiveUp(error, attempt) : error;
      options.onRetry?.(error, attempt, wait);
      if (wait > 0) await sleep(wait);
    }
  }
}

/** A plain timer-based sleep. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * `Retry-After` as milliseconds: either delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 * Undefined when absent or unreadable.
 */
export function parseRetryAfter(
  value: string | null,
  nowMs: number = Date.now(),
): number | undefined {
  if (value === null || value.trim() === "") return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}
