/**
 * A token-refresh run: refresh every primary token that expires within the window (and is at
 * least 24 hours old, as Threads requires), store the new token encrypted with the current key,
 * and record each account in sync_logs (job_type 'token_refresh'; one account's refresh and
 * its outcomes are account.ts) under one system_job_logs run that holds the job lock
 * 'token_refresh'.
 *
 * The run works within SYNC_TIME_BUDGET_MS and hands the rest to a fresh invocation through
 * pg_net (hand_off_token_refresh_run); tokens_due_for_refresh leaves out the accounts the run
 * already tried, so a continuation or a resumed run never tries one twice.
 */
import type { Config } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import {
  beginJobRun,
  continueJobRun,
  handOffJobRun,
  type JobRunStart,
  startHeartbeat,
} from "../jobs/job-run.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import { createThreadsApiStats } from "../threads-api.ts";
import {
  type AccountRefreshResult,
  type DueToken,
  JOB,
  recordCrash,
  refreshAccountToken,
} from "./account.ts";
import type { TokenRefreshConfig } from "./config.ts";

export interface TokenRefreshDeps {
  sql: Sql;
  config: Config;
  refreshConfig: TokenRefreshConfig;
  limiter: RateLimiter;
  log: Logger;
  invocationId: string;
  /** When this invocation started (ms since epoch): the time budget counts from here. */
  invocationStartedAt: number;
  fetch?: typeof fetch;
}

/** What a run covers; kept in system_job_logs.metadata.request for its continuations. */
export interface TokenRefreshScope {
  accountIds?: string[];
  workspaceId?: string;
  /** Overrides TOKEN_REFRESH_WINDOW_DAYS for this run. */
  windowDays?: number;
}

export type TokenRefreshStart = JobRunStart;

export interface TokenRefreshSummary {
  runId: string;
  status: string;
  handedOff: boolean;
  windowDays: number;
  /** The whole run so far, from its sync_logs rows. */
  accounts: { total: number; refreshed: number; failed: number; rejected: number; skipped: number };
  /** This invocation's accounts (at most 200 listed). */
  results: AccountRefreshResult[];
  invocation: { durationMs: number; accountsProcessed: number; apiCalls: number };
}

/** Accounts fetched per round; each round re-reads what is still due. */
const ROUND_SIZE = 50;
const MAX_LISTED_RESULTS = 200;
const ttlOf = (config: Config) => `${config.SYNC_LOCK_TTL_MINUTES} minutes`;

/** Starts, resumes or continues the run the request asks for (one SQL call). */
export function startTokenRefreshRun(
  deps: Pick<TokenRefreshDeps, "sql" | "config">,
  scope: TokenRefreshScope,
  runId?: string,
): Promise<TokenRefreshStart> {
  const ttl = ttlOf(deps.config);
  if (runId) return continueJobRun(deps.sql, runId, [JOB], ttl);
  const manual = Boolean(scope.accountIds || scope.workspaceId);
  return beginJobRun(deps.sql, JOB, manual ? "manual" : "cron", {
    accountIds: scope.accountIds ?? null,
    workspaceId: scope.workspaceId ?? null,
    windowDays: scope.windowDays ?? null,
  }, ttl);
}

/** This invocation's part of the run, as the pool works it. */
interface Invocation {
  deps: TokenRefreshDeps;
  runId: string;
  log: Logger;
  scope: TokenRefreshScope;
  windowDays: number;
  apiStats: ReturnType<typeof createThreadsApiStats>;
  results: AccountRefreshResult[];
  processed: number;
  /** Whether another account may start: the lock is held, nothing crashed, time is left. */
  mayGoOn(): boolean;
}

/**
 * Works the run until nothing is due (then finishes it) or the time budget is spent (then
 * hands off). Returns what this invocation did.
 */
export async function workTokenRefreshRun(
  deps: TokenRefreshDeps,
  runId: string,
): Promise<TokenRefreshSummary> {
  const { sql, config } = deps;
  const log = deps.log.child({ run_id: runId, job_type: JOB });
  const scope = await readRunScope(sql, runId);
  const windowDays = scope.windowDays ?? deps.refreshConfig.TOKEN_REFRESH_WINDOW_DAYS;
  log.info("token_refresh_invocation_started", { window_days: windowDays });

  const holder = `run:${runId}`;
  const heartbeat = startHeartbeat(
    async () => {
      const [{ ok }] = await sql`select public.extend_job_lock(${JOB}, ${holder},
        ${ttlOf(config)}::interval, ${runId}) as ok`;
      return ok;
    },
    Math.min(30_000, config.SYNC_LOCK_TTL_MINUTES * 60_000 / 5),
    log,
  );
  const deadline = deps.invocationStartedAt + config.SYNC_TIME_BUDGET_MS;
  // A worker that fails (a database fault while recording) stops the others through this flag.
  let crashed: unknown;
  const invocation: Invocation = {
    deps,
    runId,
    log,
    scope,
    windowDays,
    apiStats: createThreadsApiStats(),
    results: [],
    processed: 0,
    // Every invocation does at least one account, however little budget is left when it
    // starts: otherwise a run could hand off forever without progress.
    mayGoOn: () =>
      !heartbeat.lost() && crashed === undefined &&
      (Date.now() < deadline || invocation.processed === 0),
  };
  let done = false;
  try {
    while (!done && invocation.mayGoOn()) {
      done = await workRound(invocation, (error) => crashed ??= error);
    }
  } finally {
    heartbeat.stop();
  }
  return await closeOut(invocation, { done, lockLost: heartbeat.lost() });
}

async function readRunScope(sql: Sql, runId: string): Promise<TokenRefreshScope> {
  const [{ request }] = await sql`select metadata -> 'request' as request
    from public.system_job_logs where id = ${runId}`;
  return {
    accountIds: request?.accountIds ?? undefined,
    workspaceId: request?.workspaceId ?? undefined,
    windowDays: request?.windowDays ?? undefined,
  };
}

/**
 * One round: the next ROUND_SIZE due accounts, worked by SYNC_BATCH_SIZE workers. Returns
 * true when nothing else is due. A worker's error is reported through `onCrash` (so the other
 * workers stop) and rethrown once every worker has stopped.
 */
async function workRound(inv: Invocation, onCrash: (error: unknown) => void): Promise<boolean> {
  const { deps, scope, runId, log } = inv;
  const due = await deps.sql<DueToken[]>`select account_id, username, token_id,
      access_token_encrypted, expires_at, issued_at, refreshable_at
    from public.tokens_due_for_refresh(${`${inv.windowDays} days`}::interval, ${runId},
      ${scope.accountIds ?? null}::uuid[], ${scope.workspaceId ?? null}::uuid, ${ROUND_SIZE})`;
  if (due.length === 0) return true;
  let next = 0;
  const worker = async () => {
    while (next < due.length && inv.mayGoOn()) {
      const token = due[next++];
      const result = await refreshAccountToken(deps, log, runId, token, inv.apiStats)
        .catch((error) => recordCrash(deps.sql, log, runId, token, error));
      inv.processed++;
      if (inv.results.length < MAX_LISTED_RESULTS) inv.results.push(result);
    }
  };
  // allSettled: the round (and then the run's close-out) ends only when every worker has
  // stopped, so the run is never closed while a worker still refreshes a token.
  const settled = await Promise.allSettled(
    Array.from(
      { length: Math.min(deps.config.SYNC_BATCH_SIZE, due.length) },
      () => worker().catch((error) => (onCrash(error), Promise.reject(error))),
    ),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
  // A short round, all of it done: nothing else was due (no need to ask again, or to hand
  // off an empty remainder).
  return due.length < ROUND_SIZE && next >= due.length;
}

/**
 * Finishes the run when nothing is due, else hands it off (unless the lock was lost: the run
 * is someone else's then), and sums up the whole run from its sync_logs rows.
 */
async function closeOut(
  inv: Invocation,
  end: { done: boolean; lockLost: boolean },
): Promise<TokenRefreshSummary> {
  const { deps: { sql, config }, runId } = inv;
  let status = "running";
  let handedOff = false;
  if (end.done) {
    [{ status }] = await sql`select public.finish_token_refresh_run(${runId}) as status`;
  } else if (!end.lockLost) {
    await handOffJobRun(sql, runId, ttlOf(config));
    handedOff = true;
  }
  const [accounts] = await sql<TokenRefreshSummary["accounts"][]>`select
      count(*)::int as total,
      count(*) filter (where status = 'completed')::int as refreshed,
      count(*) filter (where status = 'failed')::int as failed,
      count(*) filter (where status = 'failed' and error_code = 'auth_expired')::int as rejected,
      count(*) filter (where status = 'skipped')::int as skipped
    from public.sync_logs where run_id = ${runId} and job_type = ${JOB}`;
  const summary: TokenRefreshSummary = {
    runId,
    status,
    handedOff,
    windowDays: inv.windowDays,
    accounts: { ...accounts },
    results: inv.results,
    invocation: {
      durationMs: Date.now() - inv.deps.invocationStartedAt,
      accountsProcessed: inv.processed,
      apiCalls: inv.apiStats.calls,
    },
  };
  inv.log.info(
    status === "running" ? "token_refresh_invocation_finished" : "token_refresh_finished",
    {
      status,
      handed_off: handedOff,
      lock_lost: end.lockLost,
      accounts: summary.accounts,
      duration_ms: summary.invocation.durationMs,
      api_calls: inv.apiStats.calls,
    },
  );
  return summary;
}
