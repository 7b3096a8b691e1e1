/**
 * Everything the simulator knows, in one object shared by the Graph endpoints, the control
 * API and the in-process handle: the world, the simulated clock, the fault rules, the request
 * counters, and the timers of delayed requests (so `close()` can release them).
 *
 * With a state file, the world (seed, start time, accounts, posts published, tokens issued
 * by refreshes) and the clock survive a restart: tokens a sync stored after a refresh stay
 * valid. Fault rules and counters are not saved; they belong to a test or a benchmark.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { FaultSet, type FaultSpec } from "./faults.ts";
import { RequestStats } from "./request-stats.ts";
import { SimClock, type SimClockState } from "./sim-clock.ts";
import { World } from "./world.ts";
import type { Account, AccountState } from "./world-model.ts";

export interface SimulatorOptions {
  /** Port on 127.0.0.1; 0 (the default) picks a free one. */
  port?: number;
  seed?: number;
  /** Demo accounts created at start (default 5). */
  accounts?: number;
  /** History posts per account (default 30). */
  posts?: number;
  /** History posts by account index, overriding `posts` (e.g. `{0: 5000}`). */
  postCounts?: Record<number, number>;
  /** Simulated time at start; default now (rounded down to the minute). */
  startTime?: Date | number | string;
  /** Time moves only when advanced (what tests want). Default false: it follows the wall clock. */
  frozenClock?: boolean;
  faults?: FaultSpec[];
  /** Whether a refresh invalidates the old token (undocumented; default false). */
  revokeOnRefresh?: boolean;
  /** Refreshing a token younger than 24 h (undocumented): an error (default) or a new token. */
  youngTokenRefresh?: "error" | "new_token";
  /** Where to keep the world between restarts. */
  stateFile?: string;
}

export interface DemoAccount {
  index: number;
  id: string;
  username: string;
  token: string;
  posts: number;
  tokenExpiresAt: string;
}

interface PersistedState {
  version: 1;
  seed: number;
  postsPerAccount: number;
  genesisMs: number;
  clock: SimClockState;
  accounts: AccountState[];
}

export class SimulatorState {
  readonly world: World;
  readonly clock: SimClock;
  readonly faults: FaultSet;
  /** Real time in ms, for the per-second limits and the stats (one clock for both). */
  readonly realNow = () => performance.now();
  readonly stats = new RequestStats(this.realNow);
  readonly revokeOnRefresh: boolean;
  readonly youngTokenRefresh: "error" | "new_token";
  readonly postsPerAccount: number;
  readonly #stateFile?: string;
  readonly #pending = new Set<() => void>();

  constructor(options: SimulatorOptions = {}) {
    this.#stateFile = options.stateFile;
    this.revokeOnRefresh = options.revokeOnRefresh ?? false;
    this.youngTokenRefresh = options.youngTokenRefresh ?? "error";
    const saved = this.#load();
    this.postsPerAccount = saved?.postsPerAccount ?? options.posts ?? 30;
    const seed = saved?.seed ?? options.seed ?? 1;
    const start = options.startTime === undefined
      ? Math.floor(Date.now() / 60_000) * 60_000
      : new Date(options.startTime).getTime();
    if (Number.isNaN(start)) {
      throw new Error(
        `Cannot start the simulator as startTime is not a date: ${options.startTime}`,
      );
    }
    this.world = new World({
      seed,
      genesisMs: saved?.genesisMs ?? start,
      accounts: saved ? 0 : options.accounts ?? 5,
      postsPerAccount: this.postsPerAccount,
      postCounts: options.postCounts,
    });
    if (saved) this.world.importAccounts(saved.accounts, this.postsPerAccount);
    this.clock = saved
      ? new SimClock(saved.clock)
      : SimClock.start(start, options.frozenClock ?? false);
    this.faults = new FaultSet(seed, this.realNow);
    for (const spec of options.faults ?? []) this.faults.add(spec);
    this.persist();
  }

  describe(account: Account): DemoAccount {
    const token = this.world.currentToken(account);
    return {
      index: account.index,
      id: account.id,
      username: account.username,
      token: token.token,
      posts: account.historyCount + account.published.length,
      tokenExpiresAt: new Date(token.expiresAt).toISOString(),
    };
  }

  demoAccounts(): DemoAccount[] {
    return this.world.accounts.map((a) => this.describe(a));
  }

  /** Resolves after `ms`, or at once when the simulator closes. */
  wait(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#pending.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#pending.add(done);
    });
  }

  /** Lets every delayed or hanging request finish now (used by close()). */
  releaseWaits(): void {
    for (const done of [...this.#pending]) done();
  }

  /** Saves the world to the state file, if there is one (atomically: write, then rename). */
  persist(): void {
    if (!this.#stateFile) return;
    const state: PersistedState = {
      version: 1,
      seed: this.world.seed,
      postsPerAccount: this.postsPerAccount,
      genesisMs: this.world.genesisMs,
      clock: this.clock.snapshot(),
      accounts: this.world.exportAccounts(),
    };
    const temp = `${this.#stateFile}.tmp`;
    writeFileSync(temp, JSON.stringify(state));
    renameSync(temp, this.#stateFile);
  }

  #load(): PersistedState | undefined {
    if (!this.#stateFile || !existsSync(this.#stateFile)) return undefined;
    try {
      const state = JSON.parse(readFileSync(this.#stateFile, "utf8")) as PersistedState;
      return state.version === 1 ? state : undefined;
    } catch {
      // A damaged file is replaced by a fresh world rather than stopping the stack.
      return undefined;
    }
  }
}
