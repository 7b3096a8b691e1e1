/**
 * What the simulator was asked: requests per endpoint, per account and per status,
 * rate-limit rejections, faults injected, and the peak requests in any one-second window
 * (real time). Tests and benchmarks assert API usage with these numbers.
 */
export interface SimulatorStats {
  requests: number;
  byEndpoint: Record<string, number>;
  /** Keyed by user id; requests without a known token count under "unauthenticated". */
  byAccount: Record<string, number>;
  byStatus: Record<string, number>;
  rateLimited: number;
  rateLimitedByAccount: Record<string, number>;
  faultsInjected: Record<string, number>;
  /** Most requests received within any 1,000 ms of real time. */
  peakRps: number;
  /** Real time since the last reset, for requests per second overall. */
  elapsedMs: number;
}

const bump = (counts: Record<string, number>, key: string) => {
  counts[key] = (counts[key] ?? 0) + 1;
};

export class RequestStats {
  #stats!: SimulatorStats;
  #startedAt = 0;
  /** Arrival times within the last second, as a queue with a moving head. */
  #window: number[] = [];
  #head = 0;
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
      faultsInjected: {},
      peakRps: 0,
      elapsedMs: 0,
    };
    this.#startedAt = this.#realNow();
    this.#window = [];
    this.#head = 0;
  }

  request(endpoint: string, account: string | undefined): void {
    const s = this.#stats;
    s.requests++;
    bump(s.byEndpoint, endpoint);
    bump(s.byAccount, account ?? "unauthenticated");
    const now = this.#realNow();
    this.#window.push(now);
    while (this.#window[this.#head] <= now - 1000) this.#head++;
    s.peakRps = Math.max(s.peakRps, this.#window.length - this.#head);
    if (this.#head > 4096) {
      this.#window = this.#window.slice(this.#head);
      this.#head = 0;
    }
  }

  status(status: number): void {
    bump(this.#stats.byStatus, String(status));
  }

  rateLimited(account: string | undefined): void {
    this.#stats.rateLimited++;
    bump(this.#stats.rateLimitedByAccount, account ?? "unauthenticated");
  }

  fault(kind: string): void {
    bump(this.#stats.faultsInjected, kind);
  }

  snapshot(): SimulatorStats {
    return structuredClone({ ...this.#stats, elapsedMs: this.#realNow() - this.#startedAt });
  }
}
