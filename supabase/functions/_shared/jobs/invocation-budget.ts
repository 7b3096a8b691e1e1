/**
 * What one invocation may spend: wall-clock time (SYNC_TIME_BUDGET_MS, below the platform's
 * wall-clock limit) and CPU time (SYNC_CPU_BUDGET_MS, below its 2 s CPU limit per request).
 * Past either budget the runner claims no more work and hands off (`spent`); accounts in flight
 * get a fifth of the budget more (at least 1 s of wall time, 100 ms of CPU) before `signal`
 * aborts them, so they stop cleanly between pages and chunks instead of being killed mid-write.
 */
import process from "node:process";

/** CPU milliseconds this process has used so far (user + system), or undefined if unknown. */
export function processCpuMs(): number | undefined {
  try {
    const usage = process.cpuUsage();
    return (usage.user + usage.system) / 1000;
  } catch {
    return undefined; // a runtime without the measure: the wall-clock budget still holds
  }
}

export interface BudgetLimits {
  /** When the invocation started (ms since epoch). */
  startedAt: number;
  /** The process CPU ms when it started (processCpuMs()). */
  cpuAtStart: number | undefined;
  wallBudgetMs: number;
  cpuBudgetMs: number;
}

export class InvocationBudget {
  readonly #limits: BudgetLimits;
  readonly #controller = new AbortController();
  readonly #timer: ReturnType<typeof setInterval>;

  constructor(limits: BudgetLimits) {
    this.#limits = limits;
    const wallGrace = Math.max(limits.wallBudgetMs / 5, 1000);
    const cpuGrace = Math.max(limits.cpuBudgetMs / 5, 100);
    this.#timer = setInterval(() => {
      const overWall = Date.now() >= limits.startedAt + limits.wallBudgetMs + wallGrace;
      if (overWall || this.cpuMs() >= limits.cpuBudgetMs + cpuGrace) this.#abort();
    }, 50);
  }

  /** CPU spent by this invocation so far (0 when the runtime cannot tell). */
  cpuMs(): number {
    const now = processCpuMs();
    if (now === undefined || this.#limits.cpuAtStart === undefined) return 0;
    return now - this.#limits.cpuAtStart;
  }

  /** Which budget is spent, if any: then claim nothing more and hand off. */
  spent(): "time" | "cpu" | undefined {
    if (Date.now() >= this.#limits.startedAt + this.#limits.wallBudgetMs) return "time";
    if (this.cpuMs() >= this.#limits.cpuBudgetMs) return "cpu";
    return undefined;
  }

  /** Wall-clock milliseconds left in the budget (for sleeps). */
  wallLeftMs(): number {
    return this.#limits.startedAt + this.#limits.wallBudgetMs - Date.now();
  }

  /** Aborts when the work in flight must stop (the grace after the budget is over). */
  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  close(): void {
    clearInterval(this.#timer);
  }

  #abort() {
    clearInterval(this.#timer);
    this.#controller.abort();
  }
}
