/**
 * The seed design's sync, kept as the "before" picture of bench/sync-throughput.ts:
 *
 *   - accounts in batches of 5, the accounts of a batch processed together;
 *   - a fixed 2 s pause between batches (the seed's way of pacing the API);
 *   - each account's API calls strictly one after another: list the posts, then each post's
 *     insights one by one, then the account insights.
 *
 * To keep the comparison honest it reuses the product's own steps (_shared/sync.ts) with an
 * insight concurrency of 1: the same endpoints through the same ThreadsApiClient, behind a
 * RateLimiter at the same ceiling, the same posts asked for, and the same database functions
 * (upsert_posts, record_post_metrics, record_account_insights) over the same connection
 * settings (_shared/platform/db.ts). What it leaves out is the run bookkeeping (system_job_logs, account
 * claims and leases, sync_logs rows): that only flatters its database time.
 *
 * It runs as a process of its own, so its peak memory is measured as the function's is (the
 * kernel's VmHWM of a fresh Deno process doing nothing but the sync):
 *
 *   TOKEN_ENCRYPTION_KEY=... deno run -A bench/lib/sync-baseline.ts '{"dbUrl": ..., "workspaceId": ...,
 *     "threadsApiBaseUrl": ..., "maxRps": 200}'
 *
 * prints one JSON line, a BaselineResult.
 */
import { decrypt } from "../../supabase/functions/_shared/crypto.ts";
import { connect } from "../../supabase/functions/_shared/platform/db.ts";
import { createLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { RateLimiter } from "../../supabase/functions/_shared/threads/rate-limiter.ts";
import {
  type StepContext,
  syncAccountInsightsForAccount,
  syncMetricsForAccount,
  syncPostsForAccount,
} from "../../supabase/functions/_shared/sync.ts";
import {
  createThreadsApiStats,
  ThreadsApiClient,
} from "../../supabase/functions/_shared/threads-api.ts";

export interface BaselineOptions {
  dbUrl: string;
  /** Every account of this workspace with a primary, unrevoked token is synced. */
  workspaceId: string;
  threadsApiBaseUrl: string;
  /** The shared limiter's ceiling: the product's THREADS_API_MAX_RPS in the comparison. */
  maxRps: number;
  /** The seed design's values: 5 accounts a batch, 2 s between batches. */
  batchSize?: number;
  pauseMs?: number;
}

export interface BaselineResult {
  accounts: number;
  completed: number;
  failed: number;
  /** The first few failures, "@username: message". */
  errors: string[];
  apiCalls: number;
  rateLimitErrors: number;
  batches: number;
  /** Time spent in the pauses between batches. */
  pausedMs: number;
  wallMs: number;
  /** The process's peak resident set (VmHWM), as the functions host reports a function's. */
  peakRssMb: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface BaselineAccount {
  id: string;
  threads_user_id: string;
  username: string;
  /** The primary token, encrypted. */
  token: string;
}

/** What every account's sync shares: one pool, one limiter, one stats counter, one logger. */
interface Shared {
  sql: ReturnType<typeof connect>;
  limiter: RateLimiter;
  apiStats: ReturnType<typeof createThreadsApiStats>;
  log: ReturnType<typeof createLogger>;
  options: BaselineOptions;
  tokenEncryptionKey: string;
}

/** Syncs the workspace's accounts the seed design's way. */
export async function runSeedDesignSync(
  options: BaselineOptions,
  tokenEncryptionKey: string,
): Promise<BaselineResult> {
  const batchSize = options.batchSize ?? 5;
  const pauseMs = options.pauseMs ?? 2000;
  const shared: Shared = {
    // One connection per account of a batch, as the product's pool has one per worker.
    sql: connect(options.dbUrl, { max: batchSize }),
    limiter: new RateLimiter({ maxRps: options.maxRps }),
    apiStats: createThreadsApiStats(),
    log: createLogger({ component: "seed-design-sync" }, () => {}),
    options,
    tokenEncryptionKey,
  };
  const result: BaselineResult = {
    accounts: 0,
    completed: 0,
    failed: 0,
    errors: [],
    apiCalls: 0,
    rateLimitErrors: 0,
    batches: 0,
    pausedMs: 0,
    wallMs: 0,
    peakRssMb: 0,
  };
  const started = performance.now();
  try {
    const accounts = await workspaceAccounts(shared.sql, options.workspaceId);
    result.accounts = accounts.length;
    for (let i = 0; i < accounts.length; i += batchSize) {
      if (i > 0) {
        await sleep(pauseMs);
        result.pausedMs += pauseMs;
      }
      result.batches++;
      const batch = accounts.slice(i, i + batchSize);
      const outcomes = await Promise.allSettled(batch.map((a) => syncAccount(shared, a)));
      outcomes.forEach((outcome, j) => {
        if (outcome.status === "fulfilled") result.completed++;
        else {
          result.failed++;
          if (result.errors.length < 5) {
            result.errors.push(`@${batch[j].username}: ${String(outcome.reason?.message)}`);
          }
        }
      });
    }
  } finally {
    await shared.sql.end();
  }
  result.wallMs = Math.round(performance.now() - started);
  result.apiCalls = shared.apiStats.calls;
  result.rateLimitErrors = shared.apiStats.rateLimitErrors;
  result.peakRssMb = peakRssMb();
  return result;
}

/** The workspace's accounts with a primary, unrevoked token, by username. */
function workspaceAccounts(sql: Shared["sql"], workspaceId: string) {
  return sql<BaselineAccount[]>`
    select a.id, a.threads_user_id, a.username, t.access_token_encrypted as token
    from public.workspace_threads_accounts a
    join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
      and t.is_primary and t.revoked_at is null
    where a.workspace_id = ${workspaceId}
    order by a.username`;
}

/** One account, the seed's way: posts, then each post's insights one by one, then the account's. */
async function syncAccount(shared: Shared, account: BaselineAccount): Promise<void> {
  const { sql, limiter, apiStats, log, options } = shared;
  const client = new ThreadsApiClient({
    baseUrl: options.threadsApiBaseUrl,
    accessToken: await decrypt(account.token, shared.tokenEncryptionKey, account.id),
    limiter,
    stats: apiStats,
    logger: log,
  });
  const ctx: StepContext = {
    sql,
    client,
    account: {
      id: account.id,
      workspaceId: options.workspaceId,
      threadsUserId: account.threads_user_id,
      username: account.username,
    },
    dryRun: false,
    log,
    // Strictly one call after another within the account.
    insightConcurrency: 1,
  };
  await syncPostsForAccount(ctx);
  await syncMetricsForAccount(ctx);
  await syncAccountInsightsForAccount(ctx);
}

/** VmHWM of this process in MB; Deno.memoryUsage().rss (current, not peak) where /proc is absent. */
function peakRssMb(): number {
  try {
    const status = Deno.readTextFileSync("/proc/self/status");
    const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1]);
    if (kb > 0) return Math.round(kb / 102.4) / 10;
  } catch { /* not Linux */ }
  return Math.round(Deno.memoryUsage().rss / 104857.6) / 10;
}

if (import.meta.main) {
  const key = Deno.env.get("TOKEN_ENCRYPTION_KEY");
  if (!key || !Deno.args[0]) {
    console.error(
      "usage: TOKEN_ENCRYPTION_KEY=<key> deno run -A bench/lib/sync-baseline.ts '<options json>'",
    );
    Deno.exit(2);
  }
  const options = JSON.parse(Deno.args[0]) as BaselineOptions;
  console.log(JSON.stringify(await runSeedDesignSync(options, key)));
}
