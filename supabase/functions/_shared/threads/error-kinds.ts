/**
 * Which kind of failure a Threads API answer is, decided in one place.
 *
 * The Graph `error.code` decides the kind; the HTTP status is only a fallback, because Meta
 * does not document the statuses of graph.threads.net (observed: 400 for OAuth-type errors,
 * 429 or 5xx from some client fixtures, as the simulator reproduces). The kind decides what
 * the caller does: retry (`transient`), wait or defer (`rate_limited`), skip the account until
 * its token is refreshed (`auth_expired`), or record and move on (everything else).
 */

export const THREADS_ERROR_KINDS = [
  "auth_expired",
  "permission",
  "rate_limited",
  "transient",
  "not_found",
  "bad_response",
  "permanent",
] as const;

export type ThreadsErrorKind = (typeof THREADS_ERROR_KINDS)[number];

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
