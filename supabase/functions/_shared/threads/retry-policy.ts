/**
 * Which failed attempts of one call are tried again, and after how long: decided here and
 * nowhere else.
 * - `transient` (Graph 1/2, 5xx, network, timeout): retried with capped exponential backoff
 *   and full jitter, at most `maxRetries` times.
 * - `rate_limited`, app-level (Graph 4, 341, a bare 429; error-kinds.ts `rateLimitScope`): the
 *   limiter pauses every caller, of every invocation, for the wait the API named or else its
 *   cool-down (2 s), and the call is retried in place once the pause is over, at most
 *   `maxAppRateLimitRetries` times: the app's budget comes back for everyone within seconds,
 *   so no account is put back for a minute.
 * - `rate_limited`, one account's (Graph 17, 32, 613): retried only when the API named a short
 *   wait (`Retry-After` or `estimated_time_to_regain_access` <= `maxRateLimitWaitMs`, 2 s), at
 *   most `maxRateLimitRetries` times. A limit that names no wait surfaces at once with
 *   `rateLimitFallbackMs` (60 s), so the sync defers that account instead of holding a worker.
 * - Either scope: a stated wait longer than `maxRateLimitWaitMs` surfaces at once with it.
 * - Everything else (auth, permission, not found, bad response, permanent) is not retried:
 *   the same request would fail the same way.
 */
import { backoffDelay } from "../platform/retry.ts";
import type { ClientSettings } from "./client-settings.ts";
import { rateLimitScope } from "./error-kinds.ts";
import { ThreadsApiError } from "./errors.ts";

/**
 * The `delayFor` of one logical call (platform/retry.ts `withRetry`): milliseconds to wait
 * before the next attempt, or undefined to give up. It counts the call's retries by kind.
 */
export function retryDelays(settings: ClientSettings): (error: unknown) => number | undefined {
  let transientRetries = 0;
  let rateLimitRetries = 0;
  let appRateLimitRetries = 0;
  return (error) => {
    if (!(error instanceof ThreadsApiError)) return undefined;
    if (error.kind === "transient" && transientRetries < settings.maxRetries) {
      transientRetries++;
      return backoffDelay(transientRetries, settings.backoff, settings.random);
    }
    if (error.kind !== "rate_limited") return undefined;
    const wait = error.retryAfterMs ?? settings.rateLimitFallbackMs;
    if (rateLimitScope(error.code) === "app") {
      if (wait > Math.max(settings.maxRateLimitWaitMs, settings.limiter.coolDownMs)) {
        return undefined;
      }
      if (appRateLimitRetries >= settings.maxAppRateLimitRetries) return undefined;
      appRateLimitRetries++;
      // No sleep of our own: the limiter holds the retry (and every other call) until the
      // shared pause it was told of is over.
      return 0;
    }
    if (wait <= settings.maxRateLimitWaitMs && rateLimitRetries < settings.maxRateLimitRetries) {
      rateLimitRetries++;
      return wait;
    }
    return undefined;
  };
}
