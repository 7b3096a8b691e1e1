/**
 * What the simulator was asked: requests per endpoint, per account and per status, rate-limit
 * answers (per account and per code), faults injected, and the request rate in real time:
 * the peak of all requests in any one-second window, and of the admitted ones (those that
 * passed every rate limit) app-wide, per account and per whole second. Tests and benchmarks
 * assert API usage, and check a combined rate against a limit, with these numbers.
 *
 * Times are arrival times (graph-api.ts decides each request when it arrives), so the windows
 * here are the ones an API limiter counts.
 */
import { SlidingWindowPeak } from "./sliding-window.ts";

export interface SimulatorStats {
  requests: number;
  byEndpoint: Record<string, number>;
  /** Keyed by user id; requests without a known token count under "unauthenticated". */
  byAccount: Record<string, number>;
  byStatus: Record<string, number>;
  rateLimited: number;
  rateLimitedByAccount: Record<string, number>;
  /** Rate-limit answers by Graph code: 4 app, 17 user, 613 per-user rate, ... */
  rateLimitedByCode: Record<string, number>;
  faultsInjected: Record<string, number>;
  /** Most requests received within any 1,000 ms of real time. */
  peakRps: number;
  /** Requests with a valid token that no rate limit refused. */
  admitted: number;
  /** Most admitted requests within any 1,000 ms (sliding, exact): the app's combined rate. */
  maxAdmittedInAnyWindow: number;
  /** The same per account (user id): one token's highest rate. */
  maxAdmittedInAnyWindowByAccount: Record<string, number>;
  /**
   * Admitted requests in each whole second since the reset; entry i is second
   * `admittedPerSecondFrom + i`. Only the last hour is kept.
   */
  admittedPerSecond: number[];
  admittedPerSecondFrom: number;
  /** Real time since the last reset, for requests per second overall. */
  elapsedMs: number;
}

/** Seconds of per-second history kept (a long-lived stack's stats stay small). */
const HISTORY_SECONDS = 3600;

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export class RequestStats {
  #stats!: SimulatorStats;
  #startedAt = 0;
  #all = new SlidingWindowPeak();
  #admitted = new SlidingWindowPeak();
  #byAccount = new Map<string, SlidingWindowPeak>();
  readonly #realNow: () => number;

  constructor(realNow: () => number = () => performance.now()) {
    this.#realNow = realNow;
    this.reset();
  }

  reset(): void {
    this.#stats = {
      requests: 0,
      byEndpoint: {},
      byAccount: {},
      byStatus: {},
      rateLimited: 0,
      rateLimitedByAccount: {},
      rateLimitedByCode: {},
      faultsInjected: {},
      peakRps: 0,
      admitted: 0,
      maxAdmittedInAnyWindow: 0,
      maxAdmittedInAnyWindowByAccount: {},
      admittedPerSecond: [],
      admittedPerSecondFrom: 0,
      elapsedMs: 0,
    };
    this.#startedAt = this.#realNow();
    this.#all = new SlidingWindowPeak();
    this.#admitted = new SlidingWindowPeak();
    this.#byAccount = new Map();
  }

  /** A request arrived (at `at`, real ms; arrivals come in order). */
  request(endpoint: string, account: string | undefined, at = this.#realNow()): void {
    const s = this.#stats;
    s.requests++;
    bump(s.byEndpoint, endpoint);
    bump(s.byAccount, account ?? "unauthenticated");
    s.peakRps = Math.max(s.peakRps, this.#all.add(at));
  }

  /** The request that arrived at `at` passed every rate limit. */
  admitted(account: string, at: number): void {
    const s = this.#stats;
    s.admitted++;
    s.maxAdmittedInAnyWindow = Math.max(s.maxAdmittedInAnyWindow, this.#admitted.add(at));
    let peak = this.#byAccount.get(account);
    if (!peak) this.#byAccount.set(account, peak = new SlidingWindowPeak());
    peak.add(at);
    const index = Math.floor((at - this.#startedAt) / 1000) - s.admittedPerSecondFrom;
    while (s.admittedPerSecond.length <= index) s.admittedPerSecond.push(0);
    s.admittedPerSecond[index]++;
    const excess = s.admittedPerSecond.length - HISTORY_SECONDS;
    if (excess > 0) {
      s.admittedPerSecond.splice(0, excess);
      s.admittedPerSecondFrom += excess;
    }
  }

  status(status: number): void {
    bump(this.#stats.byStatus, String(status));
  }

  rateLimited(account: string | undefined, code: number): void {
    this.#stats.rateLimited++;
    bump(this.#stats.rateLimitedByAccount, account ?? "unauthenticated");
    bump(this.#stats.rateLimitedByCode, String(code));
  }

  fault(kind: string): void {
    bump(this.#stats.faultsInjected, kind);
  }

  snapshot(): SimulatorStats {
    const byAccount: Record<string, number> = {};
    for (const [account, peak] of this.#byAccount) byAccount[account] = peak.peak;
    return structuredClone({
      ...this.#stats,
      maxAdmittedInAnyWindowByAccount: byAccount,
      elapsedMs: this.#realNow() - this.#startedAt,
    });
  }
}
