/**
 * Sliding one-second windows over arrival times, exact to the millisecond: the strict API's
 * limit (at most N requests in any 1,000 ms, capacity freed when the oldest request leaves
 * the window, not at second boundaries) and the peak count the stats report. Times are real
 * milliseconds (`performance.now()`), given in non-decreasing order.
 *
 * A window is the half-open interval (t - 1000, t]: two requests exactly 1,000 ms apart never
 * share one.
 */
export const WINDOW_MS = 1000;

/** At most `limit` admissions in any window: a ring of the last `limit` admitted times. */
export class SlidingWindowLimit {
  readonly limit: number;
  readonly #times: Float64Array;
  #next = 0;
  #filled = 0;

  constructor(limit: number) {
    if (!Number.isInteger(limit) || limit < 1) {
      throw new Error(`Cannot limit a window as limit must be an integer >= 1: it is ${limit}`);
    }
    this.limit = limit;
    this.#times = new Float64Array(limit);
  }

  /** Admits (and records) a request arriving at `at` unless the window already holds `limit`. */
  admit(at: number): boolean {
    // With the ring full, #next points at the oldest of the last `limit` admissions; while that
    // one is still inside the window, a new admission would make `limit + 1`.
    if (this.#filled === this.limit && this.#times[this.#next] > at - WINDOW_MS) return false;
    this.#times[this.#next] = at;
    this.#next = (this.#next + 1) % this.limit;
    this.#filled = Math.min(this.limit, this.#filled + 1);
    return true;
  }
}

/** The most arrivals seen in any window: a queue of the arrivals within the last window. */
export class SlidingWindowPeak {
  #times: number[] = [];
  #head = 0;
  #peak = 0;

  get peak(): number {
    return this.#peak;
  }

  /** Records an arrival; returns how many arrivals the window ending at `at` holds. */
  add(at: number): number {
    this.#times.push(at);
    while (this.#times[this.#head] <= at - WINDOW_MS) this.#head++;
    const count = this.#times.length - this.#head;
    this.#peak = Math.max(this.#peak, count);
    // Drop the consumed head once it is most of the array: memory stays about one window's worth
    // (this runs per account too, for thousands of accounts).
    if (this.#head > 64 && this.#head * 2 > this.#times.length) {
      this.#times = this.#times.slice(this.#head);
      this.#head = 0;
    }
    return count;
  }
}
