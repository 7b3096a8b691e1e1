/**
 * Fault rules: the trouble the real API causes, on demand, per account or for everyone.
 *
 * A rule has a `kind`, optional targeting (`token`, `userId` — a user id or username — and
 * `endpoints`), and the Stripe-fake style counters `after` (let this many matching requests
 * through first) and `count` (act this many times, then retire). Rules are set when the
 * simulator starts or at run time through the control API; the JSON shape is the zod schema
 * in fault-spec.ts, and this file holds the rules in force and their counters.
 *
 * Two clocks: `rate_limit` and `app_rate_limit` (requests per second) use real time, since
 * they limit what a client really sends; `daily_budget` (the rolling 24-hour call budget per
 * user) uses the simulated clock, so a test spends a budget and then advances a day.
 *
 * `rate_limit` is a forgiving token bucket that states its wait; `app_rate_limit` is the strict
 * app-wide limit of the real API: any 1,000 ms holds at most `rps` admitted requests, and an
 * over-limit request gets code 4 over HTTP 400 with no stated wait.
 */
import { hash32, mulberry32 } from "./prng.ts";
import { SlidingWindowLimit } from "./sliding-window.ts";
import {
  type EndpointName,
  type FaultRule,
  type FaultSpec,
  faultSpecSchema,
} from "./fault-spec.ts";

export {
  type EndpointName,
  ENDPOINTS,
  type FaultKind,
  type FaultRule,
  type FaultSpec,
  faultSpecSchema,
} from "./fault-spec.ts";

interface RuleState {
  rule: FaultRule;
  seen: number;
  fired: number;
  buckets: Map<string, { tokens: number; at: number }>;
  calls: Map<string, { times: number[]; head: number }>;
  window?: SlidingWindowLimit;
  random: () => number;
}

export interface RequestTarget {
  token?: string;
  userId?: string;
  username?: string;
  endpoint: EndpointName;
}

export type Admission =
  | { ok: true; usagePercent?: number }
  | { ok: false; retryAfterMs: number; usagePercent: number };

export class FaultSet {
  readonly #rules = new Map<string, RuleState>();
  readonly #seed: number;
  readonly #realNow: () => number;
  #nextId = 1;

  constructor(seed: number, realNow: () => number = () => performance.now()) {
    this.#seed = seed;
    this.#realNow = realNow;
  }

  /** Validates and installs a rule; throws a zod error naming the bad field. */
  add(spec: FaultSpec): FaultRule {
    const parsed = faultSpecSchema.parse(spec);
    const id = `f${this.#nextId++}`;
    const rule = { ...parsed, id } as FaultRule;
    this.#rules.set(id, {
      rule,
      seen: 0,
      fired: 0,
      buckets: new Map(),
      calls: new Map(),
      random: mulberry32(hash32(this.#seed, id)),
    });
    return rule;
  }

  remove(id: string): boolean {
    return this.#rules.delete(id);
  }

  clear(): number {
    const n = this.#rules.size;
    this.#rules.clear();
    return n;
  }

  list(): (FaultRule & { fired: number })[] {
    return [...this.#rules.values()].map((s) => ({ ...s.rule, fired: s.fired }));
  }

  /** The rules that apply to this request, in installation order (counts `after`). */
  match(target: RequestTarget): FaultRule[] {
    const active: FaultRule[] = [];
    for (const state of this.#rules.values()) {
      const rule = state.rule;
      if (rule.token !== undefined && rule.token !== target.token) continue;
      if (
        rule.userId !== undefined && rule.userId !== target.userId &&
        rule.userId !== target.username
      ) continue;
      if (rule.endpoints && !rule.endpoints.includes(target.endpoint)) continue;
      state.seen++;
      if (state.seen > (rule.after ?? 0)) active.push(rule);
    }
    return active;
  }

  /** Records that `rule` acted on a request; a rule with `count` retires when spent. */
  fire(rule: FaultRule): void {
    const state = this.#rules.get(rule.id);
    if (!state) return;
    state.fired++;
    if (rule.count !== undefined && state.fired >= rule.count) this.#rules.delete(rule.id);
  }

  /** A draw in [0, 1) from the rule's own seeded sequence (deterministic per request order). */
  draw(rule: FaultRule): number {
    return this.#rules.get(rule.id)?.random() ?? 1;
  }

  /** Token bucket in real time: `rps` refill, `burst` capacity (default one second's worth). */
  admitRate(rule: FaultRule<"rate_limit">, accountKey: string): Admission {
    const state = this.#rules.get(rule.id);
    if (!state) return { ok: true };
    const key = rule.perAccount ? accountKey : "*";
    const capacity = rule.burst ?? Math.max(1, Math.round(rule.rps));
    const now = this.#realNow();
    const bucket = state.buckets.get(key) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * rule.rps / 1000);
    bucket.at = now;
    state.buckets.set(key, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { ok: true };
    }
    return {
      ok: false,
      retryAfterMs: Math.ceil((1 - bucket.tokens) * 1000 / rule.rps),
      usagePercent: 100,
    };
  }

  /**
   * The strict app-wide limit: admits a request arriving at `arrivedAt` (real ms) unless the
   * last 1,000 ms already hold `rps` admitted requests. Refused requests use no capacity.
   */
  admitWindow(rule: FaultRule<"app_rate_limit">, arrivedAt: number): boolean {
    const state = this.#rules.get(rule.id);
    if (!state) return true;
    state.window ??= new SlidingWindowLimit(rule.rps);
    return state.window.admit(arrivedAt);
  }

  /** Rolling-window call log in simulated time, one per account. */
  admitBudget(rule: FaultRule<"daily_budget">, accountKey: string, simNow: number): Admission {
    const state = this.#rules.get(rule.id);
    if (!state) return { ok: true };
    const log = state.calls.get(accountKey) ?? { times: [], head: 0 };
    state.calls.set(accountKey, log);
    while (log.head < log.times.length && log.times[log.head] <= simNow - rule.windowMs) log.head++;
    if (log.head > 1024) {
      log.times = log.times.slice(log.head);
      log.head = 0;
    }
    const used = log.times.length - log.head;
    const percent = (n: number) =>
      rule.calls === 0 ? 100 : Math.min(100, Math.round(n * 100 / rule.calls));
    if (used >= rule.calls) {
      const oldest = log.times[log.head] ?? simNow;
      return {
        ok: false,
        retryAfterMs: Math.max(1000, oldest + rule.windowMs - simNow),
        usagePercent: percent(used),
      };
    }
    log.times.push(simNow);
    return { ok: true, usagePercent: percent(used + 1) };
  }
}
