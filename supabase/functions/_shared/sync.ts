/**
 * The three steps of an account's sync, used identically by scheduled and manual runs:
 *
 *   syncPostsForAccount             new and changed posts -> upsert_posts (one call)
 *   syncMetricsForAccount           per-post insights of the posts due -> record_post_metrics
 *                                   (L1 + L2 + L3 in one call)
 *   syncAccountInsightsForAccount   account insights -> record_account_insights (one call)
 *
 * Each step reads from the Threads API through the account's client (which shares the run's
 * rate limiter), then writes with one database call, so a crash at any line leaves either
 * nothing or the whole step written. With `dryRun` a step fetches and computes the same way
 * and writes nothing: it reports what would change. An absent API value stays null all the
 * way to the database: a missing metric is not a zero. Items the database could not store
 * are left out by the client; each step's detail counts them with the reasons (`skipped`).
 */
import type { Sql } from "./platform/db.ts";
import type { Logger } from "./platform/log.ts";
import { checkDeadline, DeadlineReached } from "./jobs/deadline.ts";
import { ThreadsApiError } from "./threads/errors.ts";
import { skipDetail } from "./threads/skipped-items.ts";
import type { PostInsights, ThreadsApiClient, ThreadsPost } from "./threads-api.ts";

export interface SyncAccount {
  id: string;
  workspaceId: string;
  threadsUserId: string;
  username: string;
}

export interface StepContext {
  sql: Sql;
  client: ThreadsApiClient;
  account: SyncAccount;
  dryRun: boolean;
  log: Logger;
  /** Insight calls of one account in flight at once; the shared limiter paces them all. */
  insightConcurrency: number;
  /** The invocation's deadline: steps stop between pages and chunks once it aborts. */
  signal?: AbortSignal;
  now?: () => Date;
}

export interface StepResult {
  /** completed: everything fetched and written; partial: some items failed (see error). */
  status: "completed" | "partial";
  items: number;
  detail: Record<string, unknown>;
  /** Why a partial step is partial: the first failure that stopped or skipped items. */
  error?: ThreadsApiError;
}

/** Later syncs re-read this much before the newest stored post, for late or edited posts. */
const POSTS_OVERLAP_MS = 24 * 3600_000;

/**
 * New and changed posts, written page by page. The first sync of an account reads its whole
 * history, and each page is written together with the cursor of the next one
 * (record_posts_page), so a history longer than one invocation advances across invocations and
 * runs instead of restarting. Later syncs read only posts published since the newest stored one
 * (less a day of overlap). At the deadline the step stops between pages (DeadlineReached).
 */
export async function syncPostsForAccount(ctx: StepContext): Promise<StepResult> {
  const capturedAt = (ctx.now ?? (() => new Date()))();
  const [state] = await ctx.sql<
    { cursor: string | null; history_synced_at: Date | null; newest: Date | null }[]
  >`
    select a.posts_history_cursor as cursor, a.posts_history_synced_at as history_synced_at,
      (select max(p.published_at) from public.workspace_threads_posts p
       where p.workspace_threads_account_id = a.id) as newest
    from public.workspace_threads_accounts a where a.id = ${ctx.account.id}`;
  const history = !state.history_synced_at;
  const since = !history && state.newest
    ? new Date(new Date(state.newest).getTime() - POSTS_OVERLAP_MS)
    : undefined;
  const after = history ? state.cursor ?? undefined : undefined;
  const mode = history ? (after ? "history_resumed" : "full_history") : "since_newest";
  const detail: Record<string, unknown> = { mode, fetched: 0, pages: 0 };
  const add = (counts: Record<string, unknown>) => addCounts(detail, counts);
  for await (const page of ctx.client.threadPages({ since, after })) {
    const rows = page.posts.map(toPostRow);
    add({ fetched: rows.length, pages: 1 });
    if (ctx.dryRun) {
      const ids = rows.map((r) => r.threads_post_id);
      const [{ known }] = await ctx.sql`
        select count(*)::int as known from public.workspace_threads_posts
        where workspace_threads_account_id = ${ctx.account.id} and threads_post_id = any(${ids})`;
      add({ would_insert: rows.length - known });
    } else {
      const [{ result }] = await ctx.sql`
        select public.record_posts_page(${ctx.account.id}, ${ctx.sql.json(rows)}, ${capturedAt},
          ${history}, ${page.nextCursor ?? null}) as result`;
      add(result ?? {});
    }
    if (page.nextCursor) checkDeadline(ctx.signal, `reading posts after page ${detail.pages}`);
  }
  Object.assign(detail, skipDetail(ctx.client.takeSkipped()));
  return { status: "completed", items: detail.fetched as number, detail };
}

/** Adds the numbers of a page's or chunk's write (upsert counts) to the step's detail. */
function addCounts(detail: Record<string, unknown>, counts: Record<string, unknown>) {
  for (const [key, value] of Object.entries(counts)) {
    if (typeof value === "number") detail[key] = ((detail[key] as number) ?? 0) + value;
  }
}

function toPostRow(post: ThreadsPost) {
  // Only the keys the API returned: an absent key keeps the stored value (upsert_posts).
  const row: Record<string, string | boolean | null> = {
    threads_post_id: post.id,
    published_at: post.timestamp.replace(/([+-]\d\d)(\d\d)$/, "$1:$2"),
  };
  if (post.text !== undefined) row.text = post.text;
  if (post.media_type !== undefined) row.media_type = post.media_type;
  if (post.permalink !== undefined) row.permalink = post.permalink;
  if (post.shortcode !== undefined) row.shortcode = post.shortcode;
  if (post.is_quote_post !== undefined) row.is_quote_post = post.is_quote_post;
  return row as { threads_post_id: string } & typeof row;
}

/**
 * Which posts' insights a run refreshes, so an account with thousands of posts stays well
 * inside its API budget (4,800 x impressions calls per 24 h, at least 48,000) while recent
 * posts, whose numbers move, are fresh every run:
 *
 *   published in the last 48 hours   every run (every 15 minutes)
 *   in the last 7 days               when last checked over 1 hour ago
 *   in the last 30 days              when last checked over 6 hours ago
 *   older                            when last checked over 24 hours ago
 *
 * Posts of the last 48 hours come first (so the cap never starves them), then never-checked
 * posts, then the stalest; at most METRICS_POSTS_PER_RUN a run (the rest are due next run). Reposts of other people's posts have no insights (the API
 * answers an empty list) and are not asked for.
 */
export const METRICS_POSTS_PER_RUN = 400;

type MetricsRow = { threads_post_id: string } & PostInsights;

async function postsDueForMetrics(ctx: StepContext, now: Date) {
  return await ctx.sql<{ threads_post_id: string }[]>`
    select p.threads_post_id
    from public.workspace_threads_posts p
    where p.workspace_threads_account_id = ${ctx.account.id}
      and p.media_type is distinct from 'REPOST_FACADE'
      and (p.metrics_checked_at is null
        or p.published_at > ${now}::timestamptz - interval '48 hours'
        or (p.published_at > ${now}::timestamptz - interval '7 days'
            and p.metrics_checked_at < ${now}::timestamptz - interval '1 hour')
        or (p.published_at > ${now}::timestamptz - interval '30 days'
            and p.metrics_checked_at < ${now}::timestamptz - interval '6 hours')
        or p.metrics_checked_at < ${now}::timestamptz - interval '24 hours')
    -- Recent posts first, so the cap never starves them; then never-checked, then stalest.
    order by (p.published_at > ${now}::timestamptz - interval '48 hours') desc,
      p.metrics_checked_at nulls first, p.published_at desc nulls last
    limit ${METRICS_POSTS_PER_RUN}`;
}

/** Posts whose insights are fetched and then written as one capture. */
export const METRICS_CHUNK_SIZE = 100;

/**
 * Per-post insights of the posts due, fetched concurrently under the shared limiter and
 * written chunk by chunk (a capture per chunk), so an invocation stopped midway keeps what it
 * wrote and the next one starts with the posts still due. A post the API no longer has is
 * left out; a rate limit or a failure that survives the client's retries stops further calls,
 * and what was fetched is still written (the step is then partial). At the deadline the chunk
 * in hand is written and the step stops (DeadlineReached).
 */
export async function syncMetricsForAccount(ctx: StepContext): Promise<StepResult> {
  const due = await postsDueForMetrics(ctx, (ctx.now ?? (() => new Date()))());
  const detail: Record<string, unknown> = { due: due.length, fetched: 0, gone: 0 };
  let stoppedBy: ThreadsApiError | undefined;
  let deadline: DeadlineReached | undefined;
  let fetchedTotal = 0;
  for (let start = 0; start < due.length && !stoppedBy && !deadline; start += METRICS_CHUNK_SIZE) {
    const chunk = due.slice(start, start + METRICS_CHUNK_SIZE);
    const capturedAt = (ctx.now ?? (() => new Date()))();
    const fetched: MetricsRow[] = [];
    let next = 0;
    const worker = async () => {
      while (!stoppedBy && !deadline && next < chunk.length) {
        const post = chunk[next++];
        try {
          const insights = await ctx.client.getPostInsights(post.threads_post_id);
          // null: the answer could not be stored (counted by takeSkipped below).
          if (insights) fetched.push({ threads_post_id: post.threads_post_id, ...insights });
        } catch (error) {
          if (error instanceof DeadlineReached) deadline ??= error;
          else if (error instanceof ThreadsApiError && error.kind === "not_found") {
            detail.gone = (detail.gone as number) + 1;
          } else if (error instanceof ThreadsApiError && error.kind !== "auth_expired") {
            stoppedBy ??= error;
          } else throw error;
        }
      }
    };
    await Promise.all(
      Array.from({ length: Math.min(ctx.insightConcurrency, chunk.length) }, worker),
    );
    fetchedTotal += fetched.length;
    if (fetched.length === 0) continue;
    if (ctx.dryRun) {
      addCounts(detail, { would_change: await countChangedMetrics(ctx, fetched) });
      continue;
    }
    const [{ result }] = await ctx.sql`
      select public.record_post_metrics(${ctx.account.id}, ${capturedAt},
        ${ctx.sql.json(fetched)}) as result`;
    addCounts(detail, result ?? {});
  }
  detail.fetched = fetchedTotal;
  Object.assign(detail, skipDetail(ctx.client.takeSkipped()));
  if (deadline) throw deadline;
  if (stoppedBy && fetchedTotal === 0) throw stoppedBy;
  return {
    status: stoppedBy ? "partial" : "completed",
    items: fetchedTotal,
    detail,
    error: stoppedBy,
  };
}

async function countChangedMetrics(ctx: StepContext, fetched: MetricsRow[]) {
  const [{ changed }] = await ctx.sql`
    select count(*)::int as changed
    from jsonb_to_recordset(${ctx.sql.json(fetched)}) as f(threads_post_id text, views bigint,
      likes bigint, replies bigint, reposts bigint, quotes bigint, shares bigint)
    join public.workspace_threads_posts p
      on p.workspace_threads_account_id = ${ctx.account.id} and p.threads_post_id = f.threads_post_id
    where (p.current_views, p.current_likes, p.current_replies, p.current_reposts,
           p.current_quotes, p.current_shares)
      is distinct from (f.views, f.likes, f.replies, f.reposts, f.quotes, f.shares)`;
  return changed;
}

/** Account insights (followers, views, likes, replies, reposts, quotes, clicks) as one capture. */
export async function syncAccountInsightsForAccount(ctx: StepContext): Promise<StepResult> {
  const capturedAt = (ctx.now ?? (() => new Date()))();
  const insights = await ctx.client.getUserInsights();
  if (!insights) {
    return { status: "completed", items: 0, detail: skipDetail(ctx.client.takeSkipped()) };
  }
  const values = {
    followers_count: insights.followers_count,
    views: insights.views,
    likes: insights.likes,
    replies: insights.replies,
    reposts: insights.reposts,
    quotes: insights.quotes,
    clicks: insights.clicks,
  };
  if (ctx.dryRun) {
    const [current] = await ctx.sql`
      select current_followers_count, current_views, current_likes, current_replies,
        current_reposts, current_quotes, current_clicks
      from public.workspace_threads_accounts where id = ${ctx.account.id}`;
    const changed = Object.entries(values).filter(([k, v]) => {
      const stored = current?.[`current_${k}`];
      return (stored === null || stored === undefined ? null : Number(stored)) !== v;
    }).map(([k]) => k);
    return { status: "completed", items: 1, detail: { would_change: changed } };
  }
  const [{ result }] = await ctx.sql`
    select public.record_account_insights(${ctx.account.id}, ${capturedAt},
      ${ctx.sql.json(values)}) as result`;
  return { status: "completed", items: 1, detail: result };
}
