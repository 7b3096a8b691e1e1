/**
 * Fault rules: the trouble the real API causes, on demand, per account or for everyone.
 *
 * A rule has a `kind`, optional targeting (`token`, `userId` — a user id or username — and
 * `endpoints`), and the Stripe-fake style counters `after` (let this many matching requests
 * through first) and `count` (act this many times, then retire). Rules are set when the
 * simulator starts or at run time through the control API; the JSON shape is the zod schema
 * below.
 *
 * Two clocks: `rate_limit` and `app_rate_limit` (requests per second) use real time, since
 * they limit what a client really sends; `daily_budget` (the rolling 24-hour call budget per
 * user) uses the simulated clock, so a test spends a budget and then advances a day.
 *
 * `rate_limit` is a forgiving token bucket that states its wait; `app_rate_limit` is the strict
 * app-wide limit of the real API: any 1,000 ms holds at most `rps` admitted requests, and an
 * over-limit request gets code 4 over HTTP 400 with no stated wait.
 */
import { z } from "zod";
import { hash32, mulberry32 } from "./prng.ts";
import { SlidingWindowLimit } from "./sliding-window.ts";
import { DAY } from "./world-model.ts";

export const ENDPOINTS = [
  "profile",
  "post",
  "threads",
  "post_insights",
  "user_insights",
  "publishing_limit",
  "refresh_token",
  "unknown",
] as const;
export type EndpointName = typeof ENDPOINTS[number];

const targeting = {
  token: z.string().min(1).optional(),
  userId: z.string().min(1).optional(),
  endpoints: z.array(z.enum(ENDPOINTS)).min(1).optional(),
  after: z.number().int().min(0).optional(),
  count: z.number().int().min(1).optional(),
};
const httpStatus = (fallback: number) => z.number().int().min(100).max(599).default(fallback);

export const faultSpecSchema = z.discriminatedUnion("kind", [
  z.strictObject({ kind: z.literal("latency"), ms: z.number().min(0).max(600_000), ...targeting }),
  // Holds the request this long (default 10 minutes: past any client timeout), then answers.
  z.strictObject({
    kind: z.literal("hang"),
    ms: z.number().min(0).max(3_600_000).default(600_000),
    ...targeting,
  }),
  z.strictObject({
    kind: z.literal("rate_limit"),
    rps: z.number().positive(),
    /** Requests allowed back to back; default one second's worth. */
    burst: z.number().int().min(1).optional(),
    /** One budget per account instead of one for all (the app-wide limit). */
    perAccount: z.boolean().default(false),
    code: z.number().int().default(4),
    status: httpStatus(400),
    retryAfter: z.boolean().default(true),
    ...targeting,
  }),
  // The strict app-wide limit: a sliding one-second window counted by arrival, code 4 over 400,
  // no Retry-After and no usage header (the usual Graph answer to an app over its rate).
  z.strictObject({
    kind: z.literal("app_rate_limit"),
    rps: z.number().int().min(1),
    ...targeting,
  }),
  z.strictObject({
    kind: z.literal("daily_budget"),
    calls: z.number().int().min(0),
    windowMs: z.number().int().positive().default(DAY),
    code: z.number().int().default(17),
    status: httpStatus(400),
    /** Send Retry-After and x-business-use-case-usage (unconfirmed for Threads). */
    headers: z.boolean().default(true),
    ...targeting,
  }),
  z.strictObject({
    kind: z.literal("transient"),
    rate: z.number().min(0).max(1).default(1),
    status: httpStatus(500),
    code: z.number().int().default(2),
    ...targeting,
  }),
  z.strictObject({
    kind: z.literal("error"),
    status: httpStatus(400),
    code: z.number().int(),
    subcode: z.number().int().optional(),
    message: z.string().optional(),
    /** Quote the request's token in the message, as some upstream errors do. */
    echoToken: z.boolean().default(false),
    type: z.string().default("OAuthException"),
    ...targeting,
  }),
  z.strictObject({ kind: z.literal("token_expired"), ...targeting }),
  z.strictObject({
    kind: z.literal("token_revoked"),
    subcode: z.number().int().default(460),
    ...targeting,
  }),
  z.strictObject({
    kind: z.literal("malformed"),
    variant: z.enum(["html", "truncated", "missing_field", "empty", "oversized"]),
    /** oversized: the body's size in bytes (valid JSON padded with spaces); default 8 MiB. */
    bytes: z.number().int().min(1).max(64 * 1024 * 1024).default(8 * 1024 * 1024),
    status: httpStatus(200),
    ...targeting,
  }),
  z.strictObject({ kind: z.literal("empty_pages"), ...targeting }),
  z.strictObject({ kind: z.literal("duplicate_items"), ...targeting }),
  z.strictObject({
    kind: z.literal("omit_metrics"),
    metrics: z.array(z.string().min(1)).min(1),
    ...targeting,
  }),
  z.strictObject({ kind: z.literal("down"), status: httpStatus(503), ...targeting }),
  // Values the real API is not known to send but a client must survive (odd-values.ts).
  z.strictObject({
    kind: z.literal("odd_values"),
    /** Field or metric name -> the JSON value to answer instead. */
    values: z.record(z.string().min(1), z.unknown()),
    /** Which post of a posts page is changed (default the first). */
    item: z.number().int().min(0).default(0),
    ...targeting,
  }),
]);

/** What a caller writes (defaults may be left out). */
export type FaultSpec = z.input<typeof faultSpecSchema>;
export type FaultKind = FaultSpec["kind"];
type ParsedSpec = z.output<typeof faultSpecSchema>;
export type FaultRule<K extends FaultKind = FaultKind> = Extract<ParsedSpec, { kind: K }> & {
  id: string;
};

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
