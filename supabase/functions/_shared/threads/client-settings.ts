/**
 * What a Threads client is built with: its options, their defaults, the bounds on values that
 * come from outside, and the counters it adds to.
 */
import type { Logger } from "../platform/log.ts";
import { type BackoffPolicy, DEFAULT_BACKOFF, delay } from "../platform/retry.ts";
import type { RateLimiter } from "./rate-limiter.ts";

/**
 * Bounds on values that come from outside, so one odd answer cannot park an account for a
 * year, hold a worker's memory, or store a token as valid for ever:
 * - a stated wait (`Retry-After`, `estimated_time_to_regain_access`) counts as at most an hour,
 *   after which the next run simply asks again;
 * - a refreshed token lives at most 60 days (a long-lived Threads token's lifetime);
 * - a body may be at most 4 MiB (a full page of 100 posts is well under 1 MiB).
 */
export const MAX_STATED_WAIT_MS = 3_600_000;
export const MAX_TOKEN_LIFETIME_S = 60 * 86_400;
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
/** Pages one listing reads at most (50,000 posts); it then stops and says so (takeSkipped). */
export const MAX_PAGES_PER_LISTING = 500;

export interface ThreadsApiClientOptions {
  /** e.g. https://graph.threads.net/v1.0 (config: THREADS_API_BASE_URL). */
  baseUrl: string;
  accessToken: string;
  /** Shared by every client of the process. */
  limiter: RateLimiter;
  fetch?: typeof fetch;
  /** Per attempt, from sending to the last byte of the body. Default 15 s. */
  timeoutMs?: number;
  /** A larger body is a `bad_response`. Default (and at most) MAX_RESPONSE_BYTES. */
  maxResponseBytes?: number;
  /** Retries of transient failures. Default 3 (4 attempts). */
  maxRetries?: number;
  /** Retries of one account's rate limits that named a short wait. Default 2. */
  maxRateLimitRetries?: number;
  /** Retries of app-level rate limits, each after the shared pause. Default 4. */
  maxAppRateLimitRetries?: number;
  maxRateLimitWaitMs?: number;
  /** The deferral of one account's rate limit that names no wait. Default 60 s. */
  rateLimitFallbackMs?: number;
  backoff?: Partial<BackoffPolicy>;
  /** Page size for /threads (the API caps it at 100). */
  pageSize?: number;
  /** Pages per listing; default (and at most) MAX_PAGES_PER_LISTING. */
  maxPages?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
  logger?: Logger;
  /** Counters to add to; pass one object to several clients to total a run. */
  stats?: ThreadsApiStats;
  /** The caller's deadline: once aborted, no call starts and one in flight stops (DeadlineReached). */
  signal?: AbortSignal;
}

export interface ThreadsApiStats {
  /** HTTP requests sent (attempts, pages included). */
  calls: number;
  retries: number;
  rateLimitErrors: number;
  /** Time spent waiting for the shared limiter. */
  limiterWaitMs: number;
  /** Calls that ended in an error after any retries. */
  failures: number;
  pages: number;
}

export function createThreadsApiStats(): ThreadsApiStats {
  return { calls: 0, retries: 0, rateLimitErrors: 0, limiterWaitMs: 0, failures: 0, pages: 0 };
}

/** The options with their defaults applied. */
export type ClientSettings =
  & Required<
    Omit<ThreadsApiClientOptions, "backoff" | "stats" | "logger" | "signal">
  >
  & {
    backoff: BackoffPolicy;
  };

/** Applies the defaults and the bounds; refuses an empty token. */
export function clientSettings(options: ThreadsApiClientOptions): ClientSettings {
  if (!options.accessToken) throw new Error("accessToken must be a non-empty string");
  return {
    fetch,
    timeoutMs: 15_000,
    maxRetries: 3,
    maxRateLimitRetries: 2,
    // Each waits out one shared pause (2 s): together about the 10 s the limiter pauses at most.
    maxAppRateLimitRetries: 4,
    // Longer waits are the caller's to defer: a worker should not sit on one account.
    maxRateLimitWaitMs: 2_000,
    rateLimitFallbackMs: 60_000,
    sleep: delay,
    random: Math.random,
    ...withoutUndefined({ ...options, signal: undefined }),
    baseUrl: options.baseUrl.replace(/\/+$/, ""),
    pageSize: Math.min(100, Math.max(1, options.pageSize ?? 100)),
    maxResponseBytes: Math.min(
      MAX_RESPONSE_BYTES,
      options.maxResponseBytes ?? MAX_RESPONSE_BYTES,
    ),
    maxPages: Math.min(MAX_PAGES_PER_LISTING, options.maxPages ?? MAX_PAGES_PER_LISTING),
    backoff: { ...DEFAULT_BACKOFF, ...options.backoff },
  };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
