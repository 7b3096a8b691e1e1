/**
 * One request budget shared by every Threads client of a process (one client per account,
 * one limiter for all of them), and, given a `SlotSource`, by every process of the app.
 *
 * Callers wait in one FIFO; a pacer decides when its head may go: shared-slot-pacer.ts (send
 * times from Postgres, for every invocation) when `slots` is given, else local-pacer.ts (a
 * token bucket in this process).
 *
 * It adapts below its ceiling (AIMD, as TCP does): an app-level rate-limit answer halves the
 * rate and pauses everyone for the cool-down the API asked for (capped); usage headers near
 * the limit hold or halve it; after a signal the rate climbs back by a tenth of the ceiling
 * per recovery interval. A per-user limit (Graph code 17) concerns one account's budget, so
 * it is counted but does not slow the others down.
 */

import type { SlotSource } from "./api-rate-slots.ts";
import type { RateLimitScope } from "./error-kinds.ts";
import { LocalPacer } from "./local-pacer.ts";
import type { Logger } from "../platform/log.ts";
import { type Clock, detach, type Pacer, systemClock, type Waiter } from "./pacing.ts";
import { SharedSlotPacer } from "./shared-slot-pacer.ts";

export { type Clock, systemClock } from "./pacing.ts";
export type { RateLimitScope };

export interface RateLimiterOptions {
  /** Where send times come from when the rate is the app's, not the process's. */
  slots?: SlotSource;
  /** Told when the shared rate cannot be reached (a pause not recorded). */
  log?: Logger;
  /** The ceiling in requests per second (config: THREADS_API_MAX_RPS). */
  maxRps: number;
  /** Requests that may go back to back after a quiet spell. Default: a tenth of a second's worth. */
  burst?: number;
  /** The rate never drops below this. Default: a twentieth of the ceiling. */
  minRps?: number;
  /** Pause after a rate-limit answer that gave no wait. Default 2 s. */
  coolDownMs?: number;
  /** Longest pause one signal imposes on everyone; longer waits are the caller's to defer. */
  maxPauseMs?: number;
  /** How often the rate climbs back by a tenth of the ceiling. Default 1 s. */
  recoveryIntervalMs?: number;
  /**
   * Longest a queued request may wait for others to go in the same wake-up (wakeBatch).
   * Default 0: each waiter is woken exactly when it may go. BATCHED_WAKE_MS in the sync.
   */
  maxBatchWaitMs?: number;
  clock?: Clock;
}

export interface RateLimitSignal {
  retryAfterMs?: number;
  scope?: RateLimitScope;
}

export interface RateLimiterStats {
  granted: number;
  /** Total time callers spent queued, summed over callers. */
  waitedMs: number;
  maxWaitMs: number;
  rateLimitSignals: number;
  slowdowns: number;
  currentRps: number;
  queued: number;
  /** Shared mode: claims of send times, and slots dropped unused (late, paused, not needed). */
  slotClaims: number;
  slotsDropped: number;
}

// Usage (x-app-usage, percent of the app's budget) at which to stop climbing, and to back off.
const USAGE_HOLD_PERCENT = 75;
const USAGE_SLOW_PERCENT = 90;
/**
 * The sync's maxBatchWaitMs: a request waits at most 25 ms for its batch, a small share of an
 * API call's round trip, and at 200 req/s one wake-up lets about 5 requests go. With shared
 * slots it also bounds how late a send may be (shared-slot-pacer.ts), so it stays well under
 * 52 ms.
 */
export const BATCHED_WAKE_MS = 25;

export class RateLimiter {
  readonly maxRps: number;
  readonly burst: number;
  readonly minRps: number;
  /** The pause after an app-level rate-limit answer that named no wait. */
  readonly coolDownMs: number;
  private readonly maxPauseMs: number;
  private readonly recoveryIntervalMs: number;
  private readonly clock: Clock;
  private readonly pacer: Pacer;

  private pausedUntil = 0;
  /** The rate set by the last signal, and when recovery from it starts. */
  private reducedRps: number;
  private recoveryFrom = 0;
  private lastSlowdownAt = Number.NEGATIVE_INFINITY;
  private readonly queue: Waiter[] = [];
  private readonly counters = {
    granted: 0,
    waitedMs: 0,
    maxWaitMs: 0,
    rateLimitSignals: 0,
    slowdowns: 0,
  };

  constructor(options: RateLimiterOptions) {
    if (!(options.maxRps > 0)) throw new Error("maxRps must be a positive number");
    this.maxRps = options.maxRps;
    this.burst = Math.max(1, Math.floor(options.burst ?? options.maxRps / 10));
    this.minRps = Math.min(this.maxRps, options.minRps ?? Math.max(0.1, options.maxRps / 20));
    // Two seconds: long enough for a per-second window to clear, short enough that a run
    // barely notices (a wait the API names overrides it).
    this.coolDownMs = options.coolDownMs ?? 2_000;
    this.maxPauseMs = options.maxPauseMs ?? 10_000;
    this.recoveryIntervalMs = options.recoveryIntervalMs ?? 1_000;
    this.clock = options.clock ?? systemClock;
    this.reducedRps = this.maxRps;
    const ctx = {
      clock: this.clock,
      queue: this.queue,
      maxBatchWaitMs: Math.max(0, options.maxBatchWaitMs ?? 0),
      rateAt: (now: number) => this.rateAt(now),
      pausedUntil: () => this.pausedUntil,
      release: (waiter: Waiter, now: number) => {
        detach(waiter);
        waiter.resolve(this.countGrant(now - waiter.enqueuedAt));
      },
    };
    this.pacer = options.slots
      ? new SharedSlotPacer(ctx, options.slots, options.log)
      : new LocalPacer(ctx, this.burst);
  }

  /** The rate in force at `now`: the reduced rate plus the recovery earned since. */
  rateAt(now = this.clock.now()): number {
    if (this.reducedRps >= this.maxRps) return this.maxRps;
    const steps = Math.max(0, Math.floor((now - this.recoveryFrom) / this.recoveryIntervalMs));
    return Math.min(this.maxRps, this.reducedRps + steps * this.maxRps / 10);
  }

  /**
   * Resolves, with the milliseconds waited, when the caller may send one request.
   * Rejects with the signal's reason if `signal` aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<number> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    const now = this.clock.now();
    if (this.pacer.takeNow(now)) return Promise.resolve(this.countGrant(0));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { enqueuedAt: now, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          reject(signal.reason);
          this.pacer.reschedule();
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      this.pacer.queued();
    });
  }

  /** The API said "too many requests". */
  onRateLimited(signal: RateLimitSignal = {}): void {
    this.counters.rateLimitSignals++;
    if (signal.scope === "account") return;
    const now = this.clock.now();
    // Answers to requests sent before the pause arrive during it: one event, one halving.
    const alreadyPaused = now < this.pausedUntil;
    const pause = Math.min(signal.retryAfterMs ?? this.coolDownMs, this.maxPauseMs);
    this.pausedUntil = Math.max(this.pausedUntil, now + pause);
    if (!alreadyPaused) {
      // Every invocation pauses, not only this one (shared slots record it).
      this.pacer.paused(pause);
      this.slowDown(now);
    }
    this.recoveryFrom = Math.max(this.recoveryFrom, this.pausedUntil);
    this.pacer.reschedule();
  }

  /** The API reported how much of the app's budget is used, in percent (x-app-usage). */
  onUsage(percent: number): void {
    const now = this.clock.now();
    if (percent >= USAGE_SLOW_PERCENT) {
      this.slowDown(now);
      this.pacer.reschedule();
    } else if (percent >= USAGE_HOLD_PERCENT) {
      // Hold the current rate: recovery starts over from here.
      this.reducedRps = this.rateAt(now);
      this.recoveryFrom = now;
    }
  }

  stats(): RateLimiterStats {
    return {
      ...this.counters,
      ...this.pacer.slotCounts(),
      currentRps: this.rateAt(),
      queued: this.queue.length,
    };
  }

  /** Halves the rate, at most once per recovery interval (signals come in bursts). */
  private slowDown(now: number): void {
    if (now - this.lastSlowdownAt < this.recoveryIntervalMs) return;
    this.reducedRps = Math.max(this.minRps, this.rateAt(now) / 2);
    this.recoveryFrom = now;
    this.lastSlowdownAt = now;
    this.counters.slowdowns++;
  }

  /** Counts one request let go after `waited` ms; returns `waited`. */
  private countGrant(waited: number): number {
    this.counters.granted++;
    this.counters.waitedMs += waited;
    this.counters.maxWaitMs = Math.max(this.counters.maxWaitMs, waited);
    return waited;
  }
}
