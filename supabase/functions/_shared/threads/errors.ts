/**
 * Threads API failures, classified in one place.
 *
 * The Graph `error.code` decides the kind; the HTTP status is only a fallback, because Meta
 * does not document the statuses of graph.threads.net (observed: 400 for OAuth-type errors,
 * 429 or 5xx from some client fixtures; see shared/threads-api.md §7). The kind decides what
 * the caller does: retry (`transient`), wait or defer (`rate_limited`), skip the account until
 * its token is refreshed (`auth_expired`), or record and move on (everything else).
 *
 * Messages follow "Cannot <do X> (<endpoint>) as <reason>: <codes>" and never carry a token:
 * everything that came from outside is passed through `redact` first.
 */
import { redact } from "../platform/log.ts";
import { sqlState } from "../platform/postgres-errors.ts";
import { scrubSecrets } from "../platform/scrub-secrets.ts";
import { graphErrorBodySchema } from "./schemas.ts";

export type ThreadsErrorKind =
  | "auth_expired"
  | "permission"
  | "rate_limited"
  | "transient"
  | "not_found"
  | "bad_response"
  | "permanent";

/** Graph codes by kind (Graph error-handling guide; Threads clients parse the same codes). */
const AUTH_CODES = new Set([190, 102]);
const RATE_LIMIT_CODES = new Set([4, 17, 32, 341, 613]);
const TRANSIENT_CODES = new Set([1, 2]);
/** Code 100 is "invalid parameter" in general; only subcode 33 means the object is gone. */
const OBJECT_MISSING = { code: 100, subcode: 33 };

/** Code 17 is the per-user limit: it concerns one account, not the app's shared budget. */
export const USER_RATE_LIMIT_CODE = 17;
/**
 * Rate limits that concern one account (17 user, 32 page, 613 the call's own limit): only that
 * account waits. Every other rate-limit answer (4 and 341 application, a bare HTTP 429) is the
 * app's budget, shared by every caller: they all pause.
 */
const ACCOUNT_RATE_LIMIT_CODES = new Set([USER_RATE_LIMIT_CODE, 32, 613]);

export type RateLimitScope = "app" | "account";

/** Whose budget a rate-limit answer with Graph `code` (undefined: none) speaks of. */
export function rateLimitScope(code: number | undefined): RateLimitScope {
  return code !== undefined && ACCOUNT_RATE_LIMIT_CODES.has(code) ? "account" : "app";
}

/** Picks the kind from the Graph code, falling back to the HTTP status. */
export function classifyGraphError(
  code: number | undefined,
  subcode: number | undefined,
  status: number,
): ThreadsErrorKind {
  if (code !== undefined) {
    if (AUTH_CODES.has(code)) return "auth_expired";
    if (code === 10 || (code >= 200 && code <= 299)) return "permission";
    if (RATE_LIMIT_CODES.has(code)) return "rate_limited";
    if (TRANSIENT_CODES.has(code)) return "transient";
    if (code === OBJECT_MISSING.code && subcode === OBJECT_MISSING.subcode) return "not_found";
    // An unknown code on a 5xx is still the server's trouble: worth another attempt.
    if (status >= 500) return "transient";
    return "permanent";
  }
  return classifyHttpStatus(status);
}

/** The fallback for answers without a Graph error body (a proxy page, an empty 502). */
export function classifyHttpStatus(status: number): ThreadsErrorKind {
  if (status === 429) return "rate_limited";
  if (status >= 500) return "transient";
  if (status === 401) return "auth_expired";
  if (status === 403) return "permission";
  if (status === 404) return "not_found";
  return "permanent";
}

// Subcodes of 190 (Graph error-handling guide), worded for an operator.
const AUTH_REASONS: Record<number, string> = {
  458: "the app is not installed for this user",
  459: "the user's account is checkpointed",
  460: "the session was invalidated (password changed or security check)",
  463: "the access token has expired",
  464: "the user is not confirmed",
  467: "the access token is invalid (revoked or logged out)",
};

const RATE_LIMIT_REASONS: Record<number, string> = {
  4: "the app's request limit was reached",
  17: "the account's call budget is exhausted",
  32: "the page request limit was reached",
  341: "the application limit was reached",
  613: "a rate limit was exceeded",
};

/** The "as <reason>" part of a message, for an operator reading sync_logs. */
export function reasonFor(kind: ThreadsErrorKind, code?: number, subcode?: number): string {
  switch (kind) {
    case "auth_expired":
      return (subcode !== undefined && AUTH_REASONS[subcode]) ||
        "the access token is invalid or expired";
    case "permission":
      return "the app lacks the permission for this call";
    case "rate_limited":
      return (code !== undefined && RATE_LIMIT_REASONS[code]) || "the API is rate limiting";
    case "transient":
      return "the API failed temporarily";
    case "not_found":
      return "the object does not exist or cannot be loaded";
    case "bad_response":
      return "the response was not what the API documents";
    case "permanent":
      return "the API refused the request";
  }
}

export interface ThreadsApiErrorInit {
  kind: ThreadsErrorKind;
  /** Method and path, no query: `GET /me/threads`. */
  endpoint: string;
  /** What was being done, as a verb phrase: "list the account's threads". */
  action: string;
  /** Defaults to `reasonFor(kind, code, subcode)`. */
  reason?: string;
  status?: number;
  code?: number;
  subcode?: number;
  fbtraceId?: string;
  retryAfterMs?: number;
  /** The API's own words, kept apart from our message (localised, sometimes long). */
  graphMessage?: string;
  attempts?: number;
}

/** Every failure of the client, whatever its cause, is one of these. */
export class ThreadsApiError extends Error {
  override readonly name = "ThreadsApiError";
  readonly kind: ThreadsErrorKind;
  readonly endpoint: string;
  readonly action: string;
  readonly reason: string;
  readonly status?: number;
  readonly code?: number;
  readonly subcode?: number;
  readonly fbtraceId?: string;
  readonly retryAfterMs?: number;
  readonly graphMessage?: string;
  readonly attempts: number;

  constructor(init: ThreadsApiErrorInit) {
    const reason = clean(init.reason ?? reasonFor(init.kind, init.code, init.subcode));
    const attempts = init.attempts ?? 1;
    super(composeMessage(init, reason, attempts));
    this.kind = init.kind;
    this.endpoint = clean(init.endpoint);
    this.action = init.action;
    this.reason = reason;
    this.status = init.status;
    this.code = init.code;
    this.subcode = init.subcode;
    this.fbtraceId = init.fbtraceId === undefined ? undefined : clean(init.fbtraceId);
    this.retryAfterMs = init.retryAfterMs;
    this.graphMessage = init.graphMessage === undefined
      ? undefined
      : clean(init.graphMessage).slice(0, 300);
    this.attempts = attempts;
  }

  /** The same failure, reported after `attempts` tries (the message says so). */
  afterAttempts(attempts: number): ThreadsApiError {
    return new ThreadsApiError({
      kind: this.kind,
      endpoint: this.endpoint,
      action: this.action,
      reason: this.reason,
      status: this.status,
      code: this.code,
      subcode: this.subcode,
      fbtraceId: this.fbtraceId,
      retryAfterMs: this.retryAfterMs,
      graphMessage: this.graphMessage,
      attempts,
    });
  }

  /**
   * The same failure with `secret` removed from every text it carries. `redact` only knows
   * tokens by shape; an upstream message can quote the bare token ("Cannot parse access
   * token: THAA..."), so the holder of the token removes that exact string.
   */
  withoutSecret(secret: string): ThreadsApiError {
    const scrub = (text: string | undefined) =>
      text === undefined ? undefined : scrubSecrets(text, secret);
    return new ThreadsApiError({
      kind: this.kind,
      endpoint: scrub(this.endpoint)!,
      action: scrub(this.action)!,
      reason: scrub(this.reason),
      status: this.status,
      code: this.code,
      subcode: this.subcode,
      fbtraceId: scrub(this.fbtraceId),
      retryAfterMs: this.retryAfterMs,
      graphMessage: scrub(this.graphMessage),
      attempts: this.attempts,
    });
  }

  /** Worth trying again later in the same run. */
  get retryable(): boolean {
    return this.kind === "transient" || this.kind === "rate_limited";
  }
}

/**
 * The error an HTTP answer stands for, or undefined when it is not one: a Graph error body
 * (on any status) is classified by its code, any other 4xx/5xx by its status. `retryAfterMs`
 * (the wait the API named), else `defaultWaitMs` for the limit's scope, is attached to
 * rate-limit errors only.
 */
export function errorFromAnswer(answer: {
  endpoint: string;
  action: string;
  status: number;
  json: unknown;
  retryAfterMs?: number;
  defaultWaitMs?: Record<RateLimitScope, number>;
}): ThreadsApiError | undefined {
  const graph = graphErrorBodySchema.safeParse(answer.json);
  if (!graph.success && answer.status < 400) return undefined;
  const e = graph.success ? graph.data.error : undefined;
  const kind = e
    ? classifyGraphError(e.code, e.error_subcode, answer.status)
    : classifyHttpStatus(answer.status);
  return new ThreadsApiError({
    kind,
    endpoint: answer.endpoint,
    action: answer.action,
    status: answer.status,
    code: e?.code,
    subcode: e?.error_subcode,
    fbtraceId: e?.fbtrace_id,
    graphMessage: e?.message,
    retryAfterMs: kind === "rate_limited"
      ? answer.retryAfterMs ?? answer.defaultWaitMs?.[rateLimitScope(e?.code)]
      : undefined,
    reason: e || kind !== "permanent"
      ? undefined
      : `the API answered HTTP ${answer.status} without a Graph error body`,
  });
}

function composeMessage(init: ThreadsApiErrorInit, reason: string, attempts: number): string {
  const facts: string[] = [];
  if (init.code !== undefined) {
    facts.push(`Graph code ${init.code}${init.subcode === undefined ? "" : `/${init.subcode}`}`);
  }
  if (init.status !== undefined) facts.push(`HTTP ${init.status}`);
  if (init.retryAfterMs !== undefined) facts.push(`retry after ${init.retryAfterMs} ms`);
  if (attempts > 1) facts.push(`after ${attempts} attempts`);
  const tail = facts.length > 0 ? `: ${facts.join(", ")}` : "";
  return clean(`Cannot ${init.action} (${init.endpoint}) as ${reason}${tail}`);
}

function clean(text: string): string {
  return redact(text) as string;
}

/**
 * The SQLSTATEs of the connection's timeouts (db.ts), recorded as `database_timeout`: the
 * step's statement was cancelled (its transaction rolled back), so the step wrote nothing.
 */
const DATABASE_TIMEOUTS: Record<string, string> = {
  "55P03": "a lock was not granted within lock_timeout (another session holds it, e.g. an " +
    "operator's LOCK TABLE or a migration)",
  "57014": "a statement was cancelled, as it ran longer than statement_timeout or an " +
    "operator cancelled it",
  "25P03": "a transaction stayed idle longer than idle_in_transaction_session_timeout",
};

/** A row's `error_code`/`error_message` pair for sync_logs: both always non-empty. */
export interface SyncLogError {
  code: string;
  message: string;
}

/**
 * Turns anything thrown during a step into what sync_logs records. `context` says which
 * account and step, so the row explains itself without the function's log.
 */
export function toSyncLogError(
  error: unknown,
  context: { step?: string; account?: string } = {},
): SyncLogError {
  const where = [
    context.step && `step ${context.step}`,
    context.account && `account ${context.account}`,
  ]
    .filter(Boolean).join(", ");
  const prefix = where ? `[${where}] ` : "";
  if (error instanceof ThreadsApiError) {
    const said = error.graphMessage ? ` (Threads said: ${error.graphMessage})` : "";
    const trace = error.fbtraceId ? ` [fbtrace_id ${error.fbtraceId}]` : "";
    return { code: error.kind, message: `${prefix}${error.message}${said}${trace}` };
  }
  const detail = error instanceof Error ? error.message : String(error ?? "");
  const text = clean(detail).trim() || "no detail was given";
  const timeout = DATABASE_TIMEOUTS[sqlState(error) ?? ""];
  if (timeout) {
    return {
      code: "database_timeout",
      message: `${prefix}Cannot finish the step as the database timed out: ${timeout} ` +
        `(SQLSTATE ${sqlState(error)}: ${text}); nothing of the step was written`,
    };
  }
  return {
    code: "internal_error",
    message: `${prefix}Cannot finish the step as it failed: ${text}`,
  };
}
