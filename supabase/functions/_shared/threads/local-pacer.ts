/**
 * Pacing within one process (no shared slots: unit tests and benches without a database):
 * GCRA, the "virtual scheduling" form of a token bucket. A request may go when
 * `now >= tat - tolerance`, and each grant moves the theoretical arrival time `tat` on by one
 * interval. Callers that cannot go yet wait in the FIFO; a single timer wakes the queue when
 * its head may go (or, within the burst, when a small batch of waiters may: one wake-up then
 * lets several requests go), so there is no polling and the budget is used to the full.
 */
import type { Pacer, PacingContext } from "./pacing.ts";

export class LocalPacer implements Pacer {
  readonly #ctx: PacingContext;
  readonly #burst: number;
  #tat = 0;
  #timer: unknown = undefined;

  constructor(ctx: PacingContext, burst: number) {
    this.#ctx = ctx;
    this.#burst = burst;
  }

  takeNow(now: number): boolean {
    if (this.#ctx.queue.length > 0 || this.#earliestGrant(now) > now) return false;
    this.#advance(now);
    return true;
  }

  queued(): void {
    this.#schedule();
  }

  reschedule(): void {
    if (this.#timer !== undefined) {
      this.#ctx.clock.clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    this.#schedule();
  }

  paused(): void {
    // The pause is in earliestGrant; nothing to record elsewhere.
  }

  slotCounts() {
    return { slotClaims: 0, slotsDropped: 0 };
  }

  #interval(now: number): number {
    return 1000 / this.#ctx.rateAt(now);
  }

  #earliestGrant(now: number): number {
    const interval = this.#interval(now);
    return Math.max(this.#ctx.pausedUntil(), this.#tat - (this.#burst - 1) * interval);
  }

  #advance(now: number): void {
    this.#tat = Math.max(this.#tat, now) + this.#interval(now);
  }

  #drain = (): void => {
    this.#timer = undefined;
    const { clock, queue } = this.#ctx;
    const now = clock.now();
    while (queue.length > 0 && this.#earliestGrant(now) <= now) {
      this.#advance(now);
      this.#ctx.release(queue.shift()!, now);
    }
    this.#schedule();
  };

  #schedule(): void {
    const { clock, queue } = this.#ctx;
    if (this.#timer !== undefined || queue.length === 0) return;
    const now = clock.now();
    // Wake when the batch's last waiter may go: those before it go in the same wake-up.
    const batch = Math.min(queue.length, this.#wakeBatch(now));
    const wakeAt = this.#earliestGrant(now) + (batch - 1) * this.#interval(now);
    // Timers may fire a little early; never sleep less than 1 ms to avoid a tight loop.
    const delay = Math.max(1, Math.ceil(wakeAt - now));
    this.#timer = clock.setTimeout(this.#drain, delay);
  }

  /**
   * How many queued requests one wake-up lets go: each wake-up of the process costs about as
   * much CPU as the request it sends (bench/cpu-per-account.ts: pacing 200 req/s one by one
   * doubled the CPU per account). A batch spans at most half the burst window, so the budget
   * its first waiters wait for is still there when the batch goes (the rate is unchanged), and
   * at most maxBatchWaitMs, the longest a request waits for its batch. The queue's last waiter
   * still goes exactly when it may; a burst of 1 (no window) keeps exact pacing.
   */
  #wakeBatch(now: number): number {
    const interval = this.#interval(now);
    const span = Math.min(this.#ctx.maxBatchWaitMs, (this.#burst - 1) * interval / 2);
    return 1 + Math.floor(span / interval);
  }
}
