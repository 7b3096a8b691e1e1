/**
 * The Threads API client: one instance per account token, all instances sharing one
 * `RateLimiter`. It reads what the sync needs (profile, posts, post insights, account
 * insights) and refreshes long-lived tokens.
 *
 * Every call: waits its turn at the shared limiter, runs under a per-attempt timeout, is
 * validated with zod, and fails only with a `ThreadsApiError` (threads/errors.ts) whose message and
 * properties never contain the token.
 *
 * Items the database could not store (a post with a lower-case media type, a negative count)
 * are left out, not failed: `takeSkipped()` tells the step which and why (skipped-items.ts).
 *
 * Retry policy, decided here and nowhere else:
 * - `transient` (Graph 1/2, 5xx, network, timeout): retried with capped exponential backoff
 *   and full jitter, at most `maxRetries` times.
 * - `rate_limited`, app-level (Graph 4, 341, a bare 429; threads/errors.ts `rateLimitScope`): the
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
import type { z } from "zod";
import { rateLimitScope } from "./threads/error-kinds.ts";
import { errorFromAnswer, ThreadsApiError } from "./threads/errors.ts";
import { createLogger, type Logger } from "./platform/log.ts";
import { checkDeadline } from "./jobs/deadline.ts";
import type { RateLimiter } from "./threads/rate-limiter.ts";
import { readUsageHeaders } from "./threads/usage-headers.ts";
import { readBody } from "./platform/read-body.ts";
import {
  backoffDelay,
  type BackoffPolicy,
  DEFAULT_BACKOFF,
  delay,
  parseRetryAfter,
  withRetry,
} from "./platform/retry.ts";
import type { SkippedItem, SkipReport } from "./threads/skipped-items.ts";
import {
  countsProblem,
  describeIssues,
  insightsResponseSchema,
  parsePostInsights,
  parsePostsPage,
  parseUserInsights,
  POST_METRICS,
  type PostInsights,
  PROFILE_FIELDS,
  profileSchema,
  THREAD_FIELDS,
  threadsPageSchema,
  type ThreadsPost,
  type ThreadsProfile,
  tokenRefreshSchema,
  USER_METRICS,
  type UserInsights,
} from "./threads/schemas.ts";

export type { PostInsights, ThreadsPost, ThreadsProfile, UserInsights } from "./threads/schemas.ts";

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

/** `since` on /threads must be >= this (Threads' launch); user insights reject earlier than the second. */
const THREADS_EPOCH_S = 1688540400;
const USER_INSIGHTS_EPOCH_S = 1712991600;

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

export interface ListThreadsOptions {
  /** Only posts published at or after this instant (Date or epoch ms). */
  since?: Date | number;
  until?: Date | number;
  /** Defaults to `me`. */
  userId?: string;
  /** Resume paging at this cursor (one a page before carried as `nextCursor`). */
  after?: string;
}

/** One page of posts and the cursor of the page after it (undefined on the last page). */
export interface ThreadsPage {
  posts: ThreadsPost[];
  nextCursor?: string;
}

export interface UserInsightsOptions {
  since?: Date | number;
  until?: Date | number;
  userId?: string;
}

export interface RefreshedToken {
  accessToken: string;
  tokenType: string;
  expiresInSeconds: number;
}

interface CallSpec<T> {
  action: string;
  /** Carries the token: never logged, never in an error (`endpoint` is). */
  url: string;
  /** The path shown in errors and logs; no query, so no token. */
  endpoint: string;
  schema: z.ZodType<T>;
}

/** The options with their defaults applied. */
type Settings =
  & Required<
    Omit<ThreadsApiClientOptions, "backoff" | "stats" | "logger" | "signal">
  >
  & {
    backoff: BackoffPolicy;
  };

export class ThreadsApiClient {
  // Private fields: the token cannot be reached, enumerated or serialised from outside.
  readonly #o: Settings;
  readonly #log: Logger;
  readonly #stats: ThreadsApiStats;
  readonly #signal?: AbortSignal;
  #skipped: SkippedItem[] = [];
  readonly #basePaths = new Map<string, string>();
  #listingStopped: string | undefined;

  constructor(options: ThreadsApiClientOptions) {
    if (!options.accessToken) throw new Error("accessToken must be a non-empty string");
    this.#o = {
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
    this.#log = options.logger ?? createLogger({ component: "threads-api" });
    this.#stats = options.stats ?? createThreadsApiStats();
    this.#signal = options.signal;
  }

  /**
   * The items left out since the last call (and whether a listing stopped at its page
   * limit), then forgets them: each step takes what its own calls left out.
   */
  takeSkipped(): SkipReport {
    const report: SkipReport = { items: this.#skipped };
    if (this.#listingStopped) report.listingStopped = this.#listingStopped;
    this.#skipped = [];
    this.#listingStopped = undefined;
    return report;
  }

  #skip(skipped: SkippedItem[], endpoint: string): void {
    if (skipped.length === 0) return;
    this.#skipped.push(...skipped);
    this.#log.warn("threads_api_items_skipped", {
      endpoint,
      skipped: skipped.length,
      first_reason: `${skipped[0].item}: ${skipped[0].reason}`,
    });
  }

  /** A snapshot of this client's counters (or of the shared object it was given). */
  stats(): ThreadsApiStats {
    return { ...this.#stats };
  }

  /** The token owner's profile (`GET /me`). */
  getProfile(): Promise<ThreadsProfile> {
    return this.#call({
      action: "read the account's profile",
      ...this.#target("/me", { fields: PROFILE_FIELDS }),
      schema: profileSchema,
    });
  }

  /**
   * Every post of the account (or those published since `since`), newest first, de-duplicated;
   * posts that could not be stored are left out (takeSkipped).
   */
  async listThreads(options: ListThreadsOptions = {}): Promise<ThreadsPost[]> {
    const posts: ThreadsPost[] = [];
    for await (const page of this.threadPages(options)) posts.push(...page.posts);
    return posts;
  }

  /**
   * The account's posts page by page, following `paging.next` until it is absent (a page may
   * be empty and still have one). Posts already seen on an earlier page are left out. Each
   * page carries the cursor of the next one, so a caller can stop and resume there later.
   */
  async *threadPages(options: ListThreadsOptions = {}): AsyncGenerator<ThreadsPage> {
    const userId = this.#checkId(options.userId ?? "me", "list the account's threads");
    const sinceS = options.since === undefined
      ? undefined
      : epochSeconds(toMs(options.since), THREADS_EPOCH_S);
    const params: Record<string, string> = {
      fields: THREAD_FIELDS,
      limit: String(this.#o.pageSize),
    };
    if (sinceS !== undefined) params.since = String(sinceS);
    if (options.until !== undefined) params.until = String(epochSeconds(toMs(options.until)));
    const seen = new Set<string>();
    let after = options.after;
    for (let page = 1;; page++) {
      const target = this.#target(`/${userId}/threads`, after ? { ...params, after } : params);
      if (page > this.#o.maxPages) {
        // Stopped, not failed: what was read is kept, and the step's metadata says so.
        this.#listingStopped = `the listing stopped after ${this.#o.maxPages} pages ` +
          `(MAX_PAGES_PER_LISTING); posts beyond them were not read`;
        this.#log.warn("threads_api_listing_stopped", {
          endpoint: target.endpoint,
          pages: this.#o.maxPages,
        });
        return;
      }
      const body = await this.#call({
        action: `list the account's threads (page ${page})`,
        ...target,
        schema: threadsPageSchema,
      });
      this.#stats.pages++;
      const { posts, skipped } = parsePostsPage(body.data);
      this.#skip(skipped, target.endpoint);
      const fresh = posts.filter((post) => {
        if (seen.has(post.id)) return false;
        seen.add(post.id);
        // `since` is the API's to apply; this only guards against an API that ignores it
        // (at the API's precision: whole seconds).
        return sinceS === undefined || Date.parse(post.timestamp) >= sinceS * 1000;
      });
      const next = body.paging?.next;
      if (!next) {
        yield { posts: fresh };
        return;
      }
      // Rebuild the next request from our own base URL: `next` carries the token, and we
      // never send it anywhere the configuration did not name.
      const nextAfter = afterCursorOf(next) ?? body.paging?.cursors?.after;
      if (!nextAfter || nextAfter === after) {
        throw this.#fail(
          new ThreadsApiError({
            kind: "bad_response",
            endpoint: target.endpoint,
            action: `list the account's threads (page ${page})`,
            reason: nextAfter
              ? "paging.next repeats the cursor of the page it came with"
              : "paging.next carries no after cursor",
          }),
        );
      }
      yield { posts: fresh, nextCursor: nextAfter };
      after = nextAfter;
    }
  }

  /**
   * Lifetime views, likes, replies, reposts, quotes and shares of one post (a metric not
   * returned is null); null itself when a count cannot be stored (takeSkipped says why).
   */
  async getPostInsights(mediaId: string): Promise<PostInsights | null> {
    const target = this.#target(
      `/${this.#checkId(mediaId, "read the post's insights")}/insights`,
      { metric: POST_METRICS.join(",") },
    );
    const body = await this.#call({
      action: "read the post's insights",
      ...target,
      schema: insightsResponseSchema,
    });
    const insights = parsePostInsights(body);
    const problem = countsProblem(insights);
    if (!problem) return insights;
    this.#skip([{ item: `insights of post ${mediaId}`, reason: problem }], target.endpoint);
    return null;
  }

  /**
   * Account insights over [since, until] (the API's default: yesterday through today); null
   * when a count cannot be stored (takeSkipped says why).
   */
  async getUserInsights(options: UserInsightsOptions = {}): Promise<UserInsights | null> {
    const params: Record<string, string> = { metric: USER_METRICS.join(",") };
    if (options.since !== undefined) {
      params.since = String(epochSeconds(toMs(options.since), USER_INSIGHTS_EPOCH_S));
    }
    if (options.until !== undefined) params.until = String(epochSeconds(toMs(options.until)));
    const target = this.#target(
      `/${this.#checkId(options.userId ?? "me", "read the account's insights")}/threads_insights`,
      params,
    );
    const body = await this.#call({
      action: "read the account's insights",
      ...target,
      schema: insightsResponseSchema,
    });
    const insights = parseUserInsights(body);
    const { views_by_day: _days, ...counts } = insights;
    const problem = countsProblem(counts);
    if (!problem) return insights;
    this.#skip([{ item: "account insights", reason: problem }], target.endpoint);
    return null;
  }

  /**
   * Exchanges this long-lived token for a fresh one (valid 60 days). The token must be at
   * least 24 hours old and unexpired; the returned string replaces the old one.
   */
  async refreshAccessToken(): Promise<RefreshedToken> {
    // Documented without a version: https://graph.threads.net/refresh_access_token
    const root = this.#o.baseUrl.replace(/\/v\d+(\.\d+)?$/, "");
    const body = await this.#call({
      action: "refresh the access token",
      ...this.#target("/refresh_access_token", { grant_type: "th_refresh_token" }, root),
      schema: tokenRefreshSchema,
    });
    const expiresInSeconds = Math.min(Math.floor(body.expires_in), MAX_TOKEN_LIFETIME_S);
    if (expiresInSeconds < body.expires_in) {
      this.#log.warn("threads_api_expires_in_capped", {
        expires_in: body.expires_in,
        capped_to: expiresInSeconds,
      });
    }
    return {
      accessToken: body.access_token,
      tokenType: body.token_type ?? "bearer",
      expiresInSeconds,
    };
  }

  /** Graph ids are numeric strings; anything else is refused before it reaches a URL or a message. */
  #checkId(id: string, action: string): string {
    if (id === "me" || /^\d{1,30}$/.test(id)) return id;
    throw this.#fail(
      new ThreadsApiError({
        kind: "permanent",
        endpoint: "GET /{id}",
        action,
        reason: "the id is not a numeric Graph id",
      }),
    );
  }

  /**
   * The request URL as a string, serialised once: a URL object set key by key re-serialises
   * itself at every key, which showed in the CPU profile of a sync (one URL per API call).
   */
  #target(path: string, params: Record<string, string>, base = this.#o.baseUrl) {
    const query = new URLSearchParams(params);
    // The documented way to pass the token; it must never leave this string.
    query.set("access_token", this.#o.accessToken);
    return { url: `${base}${path}?${query}`, endpoint: `GET ${this.#pathOf(base)}${path}` };
  }

  /** The path part of a base URL (e.g. /v1.0), read once per base. */
  #pathOf(base: string): string {
    let path = this.#basePaths.get(base);
    if (path === undefined) {
      path = new URL(base).pathname.replace(/\/+$/, "");
      this.#basePaths.set(base, path);
    }
    return path;
  }

  /** One logical call: limiter, attempts, classification, retry policy. */
  #call<T>(spec: CallSpec<T>): Promise<T> {
    let transientRetries = 0;
    let rateLimitRetries = 0;
    let appRateLimitRetries = 0;
    return withRetry((attempt) => this.#attempt(spec, attempt), {
      sleep: this.#o.sleep,
      delayFor: (error) => {
        if (!(error instanceof ThreadsApiError)) return undefined;
        if (error.kind === "transient" && transientRetries < this.#o.maxRetries) {
          transientRetries++;
          return backoffDelay(transientRetries, this.#o.backoff, this.#o.random);
        }
        if (error.kind !== "rate_limited") return undefined;
        const wait = error.retryAfterMs ?? this.#o.rateLimitFallbackMs;
        const limiter = this.#o.limiter;
        if (rateLimitScope(error.code) === "app") {
          if (wait > Math.max(this.#o.maxRateLimitWaitMs, limiter.coolDownMs)) return undefined;
          if (appRateLimitRetries >= this.#o.maxAppRateLimitRetries) return undefined;
          appRateLimitRetries++;
          // No sleep of our own: the limiter holds the retry (and every other call) until the
          // shared pause it was told of is over.
          return 0;
        }
        if (wait <= this.#o.maxRateLimitWaitMs && rateLimitRetries < this.#o.maxRateLimitRetries) {
          rateLimitRetries++;
          return wait;
        }
        return undefined;
      },
      onRetry: (error, attempt, delayMs) => {
        this.#stats.retries++;
        const e = error as ThreadsApiError;
        this.#log.warn("threads_api_retry", {
          endpoint: e.endpoint,
          kind: e.kind,
          code: e.code,
          status: e.status,
          attempt,
          delay_ms: delayMs,
        });
      },
      onGiveUp: (error, attempts) => {
        const failure = error instanceof ThreadsApiError
          ? (attempts > 1 ? error.afterAttempts(attempts) : error)
          : error;
        return this.#fail(failure);
      },
    });
  }

  /**
   * Every error leaves the client through here: counted, and with the exact token removed from
   * all its text (an upstream message may quote it bare, which `redact` cannot recognise).
   */
  #fail<E>(error: E): E {
    this.#stats.failures++;
    if (error instanceof ThreadsApiError) return error.withoutSecret(this.#o.accessToken) as E;
    return error;
  }

  /** The body with the token cut out, before any of it can reach a message or a record. */
  #withoutToken(text: string): string {
    const token = this.#o.accessToken;
    // As scrubSecrets: a very short string could be part of ordinary text; tokens are long.
    return token.length < 8 ? text : text.split(token).join("[redacted]");
  }

  async #attempt<T>(spec: CallSpec<T>, attempt: number): Promise<T> {
    checkDeadline(this.#signal, `before calling ${spec.endpoint}`);
    this.#stats.limiterWaitMs += await this.#o.limiter.acquire();
    checkDeadline(this.#signal, `before calling ${spec.endpoint}`);
    this.#stats.calls++;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#o.timeoutMs);
    const stopAtDeadline = () => controller.abort();
    this.#signal?.addEventListener("abort", stopAtDeadline);
    let status: number;
    let headers: Headers;
    let text: string | undefined;
    try {
      const fetchFn = this.#o.fetch; // called unbound: some runtimes reject another `this`
      const response = await fetchFn(spec.url, {
        headers: { accept: "application/json" },
        signal: controller.signal,
      });
      status = response.status;
      headers = response.headers;
      text = await readBody(response, this.#o.maxResponseBytes);
    } catch (error) {
      checkDeadline(this.#signal, `waiting for ${spec.endpoint}`);
      throw new ThreadsApiError({
        kind: "transient",
        endpoint: spec.endpoint,
        action: spec.action,
        attempts: attempt,
        reason: controller.signal.aborted
          ? `no complete answer came within ${this.#o.timeoutMs} ms`
          : `the request failed on the network (${describeNetworkError(error)})`,
      });
    } finally {
      clearTimeout(timer);
      this.#signal?.removeEventListener("abort", stopAtDeadline);
    }
    const usage = readUsageHeaders(headers);
    if (usage.appUsagePercent !== undefined) this.#o.limiter.onUsage(usage.appUsagePercent);
    if (text === undefined) {
      // Not retried: the same request would bring the same body.
      throw new ThreadsApiError({
        kind: "bad_response",
        endpoint: spec.endpoint,
        action: spec.action,
        status,
        reason: `the body was larger than the limit of ${this.#o.maxResponseBytes} bytes ` +
          `(MAX_RESPONSE_BYTES)`,
      });
    }
    return this.#interpret(spec, status, headers, this.#withoutToken(text), usage.regainAccessMs);
  }

  #interpret<T>(
    spec: CallSpec<T>,
    status: number,
    headers: Headers,
    text: string,
    regainAccessMs: number | undefined,
  ): T {
    let json: unknown = undefined;
    let isJson = false;
    try {
      json = JSON.parse(text);
      isJson = true;
    } catch {
      // Judged below: an error status explains itself, a 200 with junk is a bad response.
    }
    const stated = parseRetryAfter(headers.get("retry-after")) ?? regainAccessMs;
    const named = stated === undefined ? undefined : Math.min(stated, MAX_STATED_WAIT_MS);
    const base = { endpoint: spec.endpoint, action: spec.action, status };
    const error = errorFromAnswer({
      ...base,
      json,
      retryAfterMs: named,
      // No named wait: the app's budget returns after the shared cool-down; one account's
      // budget is deferred (a minute).
      defaultWaitMs: { app: this.#o.limiter.coolDownMs, account: this.#o.rateLimitFallbackMs },
    });
    if (error?.kind === "rate_limited") {
      this.#stats.rateLimitErrors++;
      // The limiter gets only a wait the API named; otherwise it uses its own cool-down.
      this.#o.limiter.onRateLimited({ retryAfterMs: named, scope: rateLimitScope(error.code) });
    }
    if (error) throw error;
    if (!isJson) {
      throw new ThreadsApiError({
        ...base,
        kind: "bad_response",
        reason: /^\s*</.test(text)
          ? "the body was HTML, not JSON (a proxy or error page?)"
          : `the body was not valid JSON (${text.length} bytes${
            text.length === 0 ? "" : ", possibly truncated"
          })`,
      });
    }
    const parsed = spec.schema.safeParse(json);
    if (!parsed.success) {
      throw new ThreadsApiError({
        ...base,
        kind: "bad_response",
        reason: `the body did not have the documented shape: ${describeIssues(parsed.error)}`,
      });
    }
    return parsed.data;
  }
}

/** The `after` cursor of a `paging.next` URL, which is read and then dropped (it has the token). */
function afterCursorOf(next: string): string | undefined {
  try {
    return new URL(next).searchParams.get("after") ?? undefined;
  } catch {
    return undefined;
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

function toMs(value: Date | number): number {
  return value instanceof Date ? value.getTime() : value;
}

function epochSeconds(ms: number, floor = 0): number {
  return Math.max(floor, Math.floor(ms / 1000));
}

/** Deno's fetch errors quote the URL, token included: keep the words, drop every URL. */
function describeNetworkError(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const cause = (error as { cause?: unknown }).cause;
  const text = cause instanceof Error ? cause.message : error.message;
  return text.replace(/https?:\/\/[^\s)]+/g, "<url>").slice(0, 200);
}
