/**
 * What a fault rule looks like: the JSON a test, the CLI or the control API sends, as a zod
 * schema grouped by the kind of trouble (faults.ts has how the rules act). A rule has a
 * `kind`, optional targeting (`token`, `userId` — a user id or username — and `endpoints`),
 * and the Stripe-fake style counters `after` (let this many matching requests through first)
 * and `count` (act this many times, then retire).
 */
import { z } from "zod";
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

/** Answers held back. */
const delays = [
  z.strictObject({ kind: z.literal("latency"), ms: z.number().min(0).max(600_000), ...targeting }),
  // Holds the request this long (default 10 minutes: past any client timeout), then answers.
  z.strictObject({
    kind: z.literal("hang"),
    ms: z.number().min(0).max(3_600_000).default(600_000),
    ...targeting,
  }),
] as const;

/** The API's rate limits: per second in real time, per day in simulated time. */
const limits = [
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
] as const;

/** Error answers and broken bodies. */
const failures = [
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
] as const;

/** Successful answers shaped the way real pages sometimes are. */
const shaping = [
  z.strictObject({ kind: z.literal("empty_pages"), ...targeting }),
  z.strictObject({ kind: z.literal("duplicate_items"), ...targeting }),
  z.strictObject({
    kind: z.literal("omit_metrics"),
    metrics: z.array(z.string().min(1)).min(1),
    ...targeting,
  }),
] as const;

/** The whole API unavailable. */
const down = z.strictObject({ kind: z.literal("down"), status: httpStatus(503), ...targeting });
// Values the real API is not known to send but a client must survive (odd-values.ts).
const oddValues = z.strictObject({
  kind: z.literal("odd_values"),
  /** Field or metric name -> the JSON value to answer instead. */
  values: z.record(z.string().min(1), z.unknown()),
  /** Which post of a posts page is changed (default the first). */
  item: z.number().int().min(0).default(0),
  ...targeting,
});

// Option order is kept: zod lists the kinds in this order when a kind is unknown.
export const faultSpecSchema = z.discriminatedUnion("kind", [
  ...delays,
  ...limits,
  ...failures,
  ...shaping,
  down,
  oddValues,
]);

/** What a caller writes (defaults may be left out). */
export type FaultSpec = z.input<typeof faultSpecSchema>;
export type FaultKind = FaultSpec["kind"];
type ParsedSpec = z.output<typeof faultSpecSchema>;
export type FaultRule<K extends FaultKind = FaultKind> = Extract<ParsedSpec, { kind: K }> & {
  id: string;
};
