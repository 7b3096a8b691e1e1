/**
 * One request budget shared by every Threads client of a process (one client per account,
 * one limiter for all of them), and, given a `SlotSource`, by every process of the app.
 *
 * Shared (the functions: `slots` = databaseSlots(sql), api-rate-slots.ts): send times come
 * from Postgres, claimed a handful at a time for the callers waiting, spaced for RATE_SHARE of
 * the rate in force, so every invocation together stays within THREADS_API_MAX_RPS in any
 * one-second window. A caller waits in the FIFO until the next slot's time; a slot missed by
 * more than LATE_SLOT_MS or falling into a pause is dropped, never returned.
 *
 * Local (no `slots`: unit tests and benches without a database): pacing is GCRA (the "virtual scheduling" form of a token bucket): a request may go when
 * `now >= tat - tolerance`, and each grant moves the theoretical arrival time `tat` on by one
 * interval. Callers that cannot go yet wait in a FIFO; a single timer wakes the queue when its
 * head may go (or, within the burst, when a small batch of waiters may: one wake-up then lets
 * several requests go), so there is no polling and the budget is used to the full.
 *
 * It adapts below its ceiling (AIMD, as TCP does): an app-level rate-limit answer halves the
 * rate and pauses everyone for the cool-down the API asked for (capped); usage headers near
 * the limit hold or halve it; after a signal the rate climbs back by a tenth of the ceiling
 * per recovery interval. A per-user limit (Graph code 17) concerns one account's budget, so
 * it is counted but does not slow the others down.
 */

import { CLAIM_AHEAD_MS, LATE_SLOT_MS, RATE_SHARE, type SlotSource } from "./api-rate-slots.ts";
import type { RateLimitScope } from "./errors.ts";
import type { Logger } from "../platform/log.ts";

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

export type { RateLimitScope };

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

interface Waiter {
  enqueuedAt: number;
  resolve: (waitedMs: number) => void;
  reject: (reason: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

// Usage (x-app-usage, percent of the app's budget) at which to stop climbing, and to back off.
const USAGE_HOLD_PERCENT = 75;
const USAGE_SLOW_PERCENT = 90;
/**
 * The sync's maxBatchWaitMs: a request waits at most 25 ms for its batch, a small share of an
 * API call's round trip, and at 200 req/s one wake-up lets about 5 requests go. With shared
 * slots it also bounds how late a send may be (see drainSlots), so it stays well under 52 ms.
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
  private readonly maxBatchWaitMs: number;
  private readonly clock: Clock;
  private readonly slots?: SlotSource;
  private readonly log?: Logger;

  private tat = 0;
  /** Shared mode: send times claimed and not yet used, ascending. */
  private held: number[] = [];
  private claiming = false;
  /** The pause being recorded for every invocation; claims wait for it. */
  private pauseWrite: Promise<void> = Promise.resolve();
  private pausedUntil = 0;
  /** The rate set by the last signal, and when recovery from it starts. */
  private reducedRps: number;
  private recoveryFrom = 0;
  private lastSlowdownAt = Number.NEGATIVE_INFINITY;
  private readonly queue: Waiter[] = [];
  private timer: unknown = undefined;
  private readonly counters = {
    granted: 0,
    waitedMs: 0,
    maxWaitMs: 0,
    rateLimitSignals: 0,
    slowdowns: 0,
    slotClaims: 0,
    slotsDropped: 0,
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
    this.maxBatchWaitMs = Math.max(0, options.maxBatchWaitMs ?? 0);
    this.clock = options.clock ?? systemClock;
    this.slots = options.slots;
    this.log = options.log;
    this.reducedRps = this.maxRps;
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
    if (!this.slots && this.queue.length === 0 && this.earliestGrant(now) <= now) {
      this.grant(now, now);
      return Promise.resolve(0);
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { enqueuedAt: now, resolve, reject, signal };
      if (signal) {
        waiter.onAbort = () => {
          const index = this.queue.indexOf(waiter);
          if (index >= 0) this.queue.splice(index, 1);
          reject(signal.reason);
          this.reschedule();
        };
        signal.addEventListener("abort", waiter.onAbort, { once: true });
      }
      this.queue.push(waiter);
      if (this.slots) this.reschedule();
      else this.schedule();
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
    // Every invocation pauses, not only this one (once per episode: the answers to requests
    // sent before the pause arrive during it).
    if (this.slots && !alreadyPaused) this.recordPause(pause);
    if (!alreadyPaused) this.slowDown(now);
    this.recoveryFrom = Math.max(this.recoveryFrom, this.pausedUntil);
    this.reschedule();
  }

  /** The API reported how much of the app's budget is used, in percent (x-app-usage). */
  onUsage(percent: number): void {
    const now = this.clock.now();
    if (percent >= USAGE_SLOW_PERCENT) {
      this.slowDown(now);
      this.reschedule();
    } else if (percent >= USAGE_HOLD_PERCENT) {
      // Hold the current rate: recovery starts over from here.
      this.reducedRps = this.rateAt(now);
      this.recoveryFrom = now;
    }
  }

  stats(): RateLimiterStats {
    return { ...this.counters, currentRps: this.rateAt(), queued: this.queue.length };
  }

  private recordPause(ms: number): void {
    const slots = this.slots!;
    this.pauseWrite = this.pauseWrite.then(() => slots.pause(ms)).catch((error) => {
      // This invocation still pauses; the others learn of the limit from their own answers.
      this.log?.warn("api_pause_not_shared", { pause_ms: ms, error: describe(error) });
    });
  }

  /** Shared mode: hands due slots to the queue's head, claims more, arms the timer. */
  private drainSlots = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    // A slot may be used up to LATE_SLOT_MS + maxBatchWaitMs after its time: together at
    // most the 52 ms that RATE_SHARE leaves (a send delayed by d keeps any 1 s window within
    // the slots of 1 s + d, which RATE_SHARE spacing holds to the limit while d <= 52 ms).
    while (
      this.held.length > 0 &&
      (this.held[0] < now - LATE_SLOT_MS - this.maxBatchWaitMs || this.held[0] < this.pausedUntil)
    ) {
      this.held.shift();
      this.counters.slotsDropped++;
    }
    while (this.queue.length > 0 && this.held.length > 0 && this.held[0] <= now) {
      this.held.shift();
      this.release(this.queue.shift()!, now);
    }
    if (this.queue.length === 0) return;
    if (this.shortOfSlots(now) && !this.claiming && now >= this.pausedUntil) this.claimSlots(now);
    // The next slot, or the last of the slots within maxBatchWaitMs of it that callers wait
    // for (one wake-up then lets them all go, never before their time), or the pause's end
    // (held slots are never inside a pause).
    let next = this.held.length > 0 ? this.held[0] : undefined;
    for (let i = 1; next !== undefined && i < Math.min(this.held.length, this.queue.length); i++) {
      if (this.held[i] > this.held[0] + this.maxBatchWaitMs) break;
      next = this.held[i];
    }
    if (next === undefined && now < this.pausedUntil) next = this.pausedUntil;
    if (next !== undefined) {
      this.timer = this.clock.setTimeout(this.drainSlots, Math.max(1, Math.ceil(next - now)));
    }
  };

  /** The claim's rate (RATE_SHARE of the rate in force) and its most slots (CLAIM_AHEAD_MS). */
  private claimSize(now: number) {
    const rps = Math.round(this.rateAt(now) * RATE_SHARE * 1000) / 1000;
    return { rps, batch: Math.max(1, Math.ceil(rps * CLAIM_AHEAD_MS / 1000)) };
  }

  /**
   * Whether to claim: when no slot is held, or when the callers waiting outnumber the slots
   * held by half of what one claim can take. Callers whose answers come back quickly queue
   * again as fast as slots are used, so claiming at every shortfall cost a claim (a database
   * round trip, the invocation's CPU) per slot or two; with the slack, a busy queue costs one
   * per several slots. The slots held never outnumber the callers waiting, as before: holding
   * more would push every invocation's next slots later.
   */
  private shortOfSlots(now: number): boolean {
    const short = this.queue.length - this.held.length;
    if (short <= 0) return false;
    if (this.held.length === 0) return true;
    return short >= Math.min(this.claimSize(now).batch, this.queue.length) / 2;
  }

  /** Claims enough slots for the callers waiting, at most CLAIM_AHEAD_MS of the rate. */
  private claimSlots(now: number): void {
    const { rps, batch } = this.claimSize(now);
    const count = Math.min(batch, this.queue.length - this.held.length);
    const slots = this.slots!;
    this.claiming = true;
    this.counters.slotClaims++;
    this.pauseWrite.then(() => slots.claim(count, rps)).then(
      (times) => {
        this.held = [...this.held, ...times].sort((a, b) => a - b);
      },
      (error) => {
        // Without the shared rate no call may go: the callers fail now, the sync records why.
        const failure = new Error(
          `Cannot pace the Threads API calls as the database did not hand out send times ` +
            `(claim_api_slots): ${describe(error)}`,
        );
        for (const waiter of this.queue.splice(0)) {
          if (waiter.signal && waiter.onAbort) {
            waiter.signal.removeEventListener("abort", waiter.onAbort);
          }
          waiter.reject(failure);
        }
      },
    ).finally(() => {
      this.claiming = false;
      this.reschedule();
    });
  }

  /** Halves the rate, at most once per recovery interval (signals come in bursts). */
  private slowDown(now: number): void {
    if (now - this.lastSlowdownAt < this.recoveryIntervalMs) return;
    this.reducedRps = Math.max(this.minRps, this.rateAt(now) / 2);
    this.recoveryFrom = now;
    this.lastSlowdownAt = now;
    this.counters.slowdowns++;
  }

  private interval(now: number): number {
    return 1000 / this.rateAt(now);
  }

  private earliestGrant(now: number): number {
    const interval = this.interval(now);
    return Math.max(this.pausedUntil, this.tat - (this.burst - 1) * interval);
  }

  private grant(now: number, enqueuedAt: number): number {
    this.tat = Math.max(this.tat, now) + this.interval(now);
    const waited = now - enqueuedAt;
    this.counters.granted++;
    this.counters.waitedMs += waited;
    this.counters.maxWaitMs = Math.max(this.counters.maxWaitMs, waited);
    return waited;
  }

  private drain = (): void => {
    this.timer = undefined;
    const now = this.clock.now();
    while (this.queue.length > 0 && this.earliestGrant(now) <= now) {
      this.release(this.queue.shift()!, now);
    }
    this.schedule();
  };

  private release(waiter: Waiter, now: number): void {
    if (waiter.signal && waiter.onAbort) {
      waiter.signal.removeEventListener("abort", waiter.onAbort);
    }
    waiter.resolve(this.grant(now, waiter.enqueuedAt));
  }

  private schedule(): void {
    if (this.timer !== undefined || this.queue.length === 0) return;
    const now = this.clock.now();
    // Wake when the batch's last waiter may go: those before it go in the same wake-up.
    const batch = Math.min(this.queue.length, this.wakeBatch(now));
    const wakeAt = this.earliestGrant(now) + (batch - 1) * this.interval(now);
    // Timers may fire a little early; never sleep less than 1 ms to avoid a tight loop.
    const delay = Math.max(1, Math.ceil(wakeAt - now));
    this.timer = this.clock.setTimeout(this.drain, delay);
  }

  /**
   * How many queued requests one wake-up lets go: each wake-up of the process costs about as
   * much CPU as the request it sends (bench/cpu-per-account.ts: pacing 200 req/s one by one
   * doubled the CPU per account). A batch spans at most half the burst window, so the budget
   * its first waiters wait for is still there when the batch goes (the rate is unchanged), and
   * at most maxBatchWaitMs, the longest a request waits for its batch. The queue's last waiter
   * still goes exactly when it may; a burst of 1 (no window) keeps exact pacing.
   */
  private wakeBatch(now: number): number {
    const interval = this.interval(now);
    const span = Math.min(this.maxBatchWaitMs, (this.burst - 1) * interval / 2);
    return 1 + Math.floor(span / interval);
  }

  /** The head's time changed (pause, slowdown, abort, new slots): re-arm the single timer. */
  private reschedule(): void {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.slots) this.drainSlots();
    else this.schedule();
  }
}

/** What the Graph usage headers say, when the API sends them (unconfirmed for Threads). */
export interface UsageSignals {
  /** Highest percentage in `x-app-usage` (call_count, total_time, total_cputime). */
  appUsagePercent?: number;
  /** `estimated_time_to_regain_access` of `x-business-use-case-usage`, in ms. */
  regainAccessMs?: number;
}

export function readUsageHeaders(headers: Headers): UsageSignals {
  const signals: UsageSignals = {};
  const app = parseJsonObject(headers.get("x-app-usage"));
  if (app) {
    const percents = ["call_count", "total_time", "total_cputime"]
      .map((key) => app[key]).filter((v): v is number => typeof v === "number");
    if (percents.length > 0) signals.appUsagePercent = Math.max(...percents);
  }
  // {"<business id>": [{"type": ..., "estimated_time_to_regain_access": <minutes>}, ...]}
  const business = parseJsonObject(headers.get("x-business-use-case-usage"));
  if (business) {
    const minutes = Object.values(business).flatMap((v) => Array.isArray(v) ? v : [])
      .map((entry) => (entry as Record<string, unknown>)?.estimated_time_to_regain_access)
      .filter((v): v is number => typeof v === "number" && v > 0);
    if (minutes.length > 0) signals.regainAccessMs = Math.max(...minutes) * 60_000;
  }
  return signals;
}

function describe(error: unknown): string {
  return (error instanceof Error ? error.message : String(error)).slice(0, 300);
}

function parseJsonObject(text: string | null): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}
