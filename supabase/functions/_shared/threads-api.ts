/**
 * The Threads API client: one instance per account token, all instances sharing one
 * `RateLimiter`. It reads what the sync needs (profile, posts, post insights, account
 * insights) and refreshes long-lived tokens.
 *
 * Every call: waits its turn at the shared limiter, runs under a per-attempt timeout, is
 * validated with zod, and fails only with a `ThreadsApiError` (threads/errors.ts) whose message and
 * properties never contain the token. The parts live in threads/: the request path
 * (requester.ts, answer.ts), the retry policy (retry-policy.ts), paging (post-pages.ts), the
 * token refresh call (refresh-token-call.ts) and the options (client-settings.ts).
 *
 * Items the database could not store (a post with a lower-case media type, a negative count)
 * are left out, not failed: `takeSkipped()` tells the step which and why (skipped-items.ts).
 */
import { createLogger, type Logger } from "./platform/log.ts";
import {
  type ClientSettings,
  clientSettings,
  createThreadsApiStats,
  type ThreadsApiClientOptions,
  type ThreadsApiStats,
} from "./threads/client-settings.ts";
import { epochSeconds, toMs, USER_INSIGHTS_EPOCH_S } from "./threads/epoch.ts";
import { type ListThreadsOptions, postPages, type ThreadsPage } from "./threads/post-pages.ts";
import { type RefreshedToken, refreshToken } from "./threads/refresh-token-call.ts";
import { ThreadsRequester } from "./threads/requester.ts";
import type { SkippedItem, SkipReport } from "./threads/skipped-items.ts";
import {
  countsProblem,
  insightsResponseSchema,
  parsePostInsights,
  parseUserInsights,
  POST_METRICS,
  type PostInsights,
  PROFILE_FIELDS,
  profileSchema,
  type ThreadsPost,
  type ThreadsProfile,
  USER_METRICS,
  type UserInsights,
} from "./threads/schemas.ts";

export type { PostInsights, ThreadsPost, ThreadsProfile, UserInsights } from "./threads/schemas.ts";
export {
  createThreadsApiStats,
  MAX_PAGES_PER_LISTING,
  MAX_RESPONSE_BYTES,
  MAX_STATED_WAIT_MS,
  MAX_TOKEN_LIFETIME_S,
  type ThreadsApiClientOptions,
  type ThreadsApiStats,
} from "./threads/client-settings.ts";
export type { ListThreadsOptions, ThreadsPage } from "./threads/post-pages.ts";
export type { RefreshedToken } from "./threads/refresh-token-call.ts";

export interface UserInsightsOptions {
  since?: Date | number;
  until?: Date | number;
  userId?: string;
}

export class ThreadsApiClient {
  // Private fields: the token cannot be reached, enumerated or serialised from outside.
  readonly #o: ClientSettings;
  readonly #http: ThreadsRequester;
  readonly #log: Logger;
  readonly #stats: ThreadsApiStats;
  #skipped: SkippedItem[] = [];
  #listingStopped: string | undefined;

  constructor(options: ThreadsApiClientOptions) {
    this.#o = clientSettings(options);
    this.#log = options.logger ?? createLogger({ component: "threads-api" });
    this.#stats = options.stats ?? createThreadsApiStats();
    this.#http = new ThreadsRequester(this.#o, this.#log, this.#stats, options.signal);
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
    return this.#http.call({
      action: "read the account's profile",
      ...this.#http.target("/me", { fields: PROFILE_FIELDS }),
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
   * The account's posts page by page (threads/post-pages.ts). Posts already seen on an earlier
   * page are left out. Each page carries the cursor of the next one, so a caller can stop and
   * resume there later.
   */
  threadPages(options: ListThreadsOptions = {}): AsyncGenerator<ThreadsPage> {
    return postPages(this.#http, this.#o, {
      skipped: (items, endpoint) => this.#skip(items, endpoint),
      stopped: (why, endpoint) => {
        this.#listingStopped = why;
        this.#log.warn("threads_api_listing_stopped", { endpoint, pages: this.#o.maxPages });
      },
      page: () => this.#stats.pages++,
    }, options);
  }

  /**
   * Lifetime views, likes, replies, reposts, quotes and shares of one post (a metric not
   * returned is null); null itself when a count cannot be stored (takeSkipped says why).
   */
  async getPostInsights(mediaId: string): Promise<PostInsights | null> {
    const target = this.#http.target(
      `/${this.#http.checkId(mediaId, "read the post's insights")}/insights`,
      { metric: POST_METRICS.join(",") },
    );
    const body = await this.#http.call({
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
    const userId = this.#http.checkId(options.userId ?? "me", "read the account's insights");
    const target = this.#http.target(`/${userId}/threads_insights`, params);
    const body = await this.#http.call({
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
  refreshAccessToken(): Promise<RefreshedToken> {
    return refreshToken(this.#http, this.#o.baseUrl, this.#log);
  }
}
