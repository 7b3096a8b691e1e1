/**
 * The simulated "now" of the Threads world. Metrics, token expiry and the 24-hour call budget
 * are functions of it, so a test moves time forward with `advance` instead of waiting.
 *
 * Running (the default for the local stack), it flows with the wall clock from `startMs`, so
 * a sync every 15 minutes sees metrics grow. Frozen (what tests want), it moves only when
 * advanced. Rate limits per second are a different matter: they use real time (see faults.ts).
 */
export interface SimClockState {
  /** Simulated time at the anchor. */
  startMs: number;
  /** Wall-clock time at the anchor. */
  anchorRealMs: number;
  advancedMs: number;
  frozen: boolean;
}

export class SimClock {
  #state: SimClockState;
  readonly #realNow: () => number;

  constructor(state: SimClockState, realNow: () => number = Date.now) {
    this.#state = { ...state };
    this.#realNow = realNow;
  }

  static start(startMs: number, frozen: boolean, realNow: () => number = Date.now): SimClock {
    return new SimClock({ startMs, anchorRealMs: realNow(), advancedMs: 0, frozen }, realNow);
  }

  now(): number {
    const flowed = this.#state.frozen ? 0 : this.#realNow() - this.#state.anchorRealMs;
    return this.#state.startMs + this.#state.advancedMs + Math.max(0, flowed);
  }

  /** Moves time forward; time never goes back (tokens and budgets assume it). */
  advance(ms: number): number {
    if (!(ms >= 0)) {
      throw new Error(`Cannot advance the clock as ms must be >= 0: current value is ${ms}`);
    }
    this.#state.advancedMs += ms;
    return this.now();
  }

  get frozen(): boolean {
    return this.#state.frozen;
  }

  get startMs(): number {
    return this.#state.startMs;
  }

  snapshot(): SimClockState {
    return { ...this.#state };
  }
}
