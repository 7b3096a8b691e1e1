/**
 * One account of a run: check it (account-checks.ts), run the three steps in order (posts,
 * metrics, account insights) with a sync_logs row each (account-steps.ts), decide the
 * account's outcome and record it with its last rows (account-outcome.ts).
 *
 * Outcome policy (the README's troubleshooting table says what an operator does about each):
 *   every step completed                          completed
 *   token missing, expired, or rejected (190)     skipped, left to token refresh
 *   rate limited, a short cool-down               back to pending, retried later in the run
 *   transient failure that outlived the retries   retried once later in the run
 *   some steps done, some not                     partial (the done steps are recorded)
 *   nothing done                                  failed
 * One account never fails the run: every error ends up in its sync_logs rows.
 */
import type { ErrorCode } from "../jobs/error-codes.ts";
import type { Config } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import type { StepContext, SyncAccount } from "../sync.ts";
import { createThreadsApiStats, ThreadsApiClient, type ThreadsApiStats } from "../threads-api.ts";
import { type ClaimedAccount, preCheck } from "./account-checks.ts";
import { runSteps } from "./account-steps.ts";
import { settleAccount } from "./account-outcome.ts";
import { StepLogs } from "./step-logs.ts";

export type AccountOutcome = "completed" | "partial" | "failed" | "skipped" | "retry";

export interface AccountSyncDeps {
  sql: Sql;
  config: Config;
  limiter: RateLimiter;
  log: Logger;
  /** The invocation's API counters, added to by every account's client. */
  apiStats: ThreadsApiStats;
  fetch?: typeof fetch;
  /** Asked between steps: true when the run's circuit breaker opened meanwhile. */
  breakerOpen?: () => boolean;
  /** The invocation's deadline: the account stops there and goes back to the run. */
  signal?: AbortSignal;
}

export interface AccountResult {
  accountId: string;
  outcome: AccountOutcome;
  /** The error that decided a non-completed outcome. */
  errorCode?: ErrorCode;
  errorMessage?: string;
  /**
   * True when no API call for the account succeeded and the failure says the API itself is in
   * trouble (feeds the circuit breaker).
   */
  apiTrouble: boolean;
  durationMs: number;
  apiCalls: number;
  stepMs: Record<string, number>;
}

/** One attempt at one claimed account: what its checks, steps and outcome share. */
export interface AccountAttempt {
  deps: AccountSyncDeps;
  runId: string;
  worker: string;
  row: ClaimedAccount;
  log: Logger;
  /** Its sync_logs rows not written yet. */
  logs: StepLogs;
  /** When the attempt started (ms since epoch). */
  started: number;
}

/** Syncs one claimed account of run `runId` and records its outcome. */
export async function syncClaimedAccount(
  deps: AccountSyncDeps,
  runId: string,
  row: ClaimedAccount,
  worker: string,
): Promise<AccountResult> {
  const attempt: AccountAttempt = {
    deps,
    runId,
    worker,
    row,
    log: deps.log.child({ account_id: row.account_id }),
    logs: new StepLogs(deps.sql, runId, row.account_id, row.attempts),
    started: Date.now(),
  };
  const checked = await preCheck(attempt);
  if ("finished" in checked) return checked.finished;
  // The account's own counters: its calls per step go to sync_logs (the 24-hour budget query
  // sums them), and are added to the invocation's totals at the end.
  const accountStats = createThreadsApiStats();
  const account = {
    id: row.account_id,
    workspaceId: row.workspace_id,
    threadsUserId: row.threads_user_id,
    username: row.username,
  };
  const ctx = stepContext(deps, account, {
    token: checked.token,
    stats: accountStats,
    log: attempt.log,
    signal: deps.signal,
  }, false);
  const steps = await runSteps(attempt, ctx, accountStats);
  for (const key of Object.keys(accountStats) as (keyof ThreadsApiStats)[]) {
    deps.apiStats[key] += accountStats[key];
  }
  return settleAccount(attempt, steps);
}

/**
 * What the steps work with: the account's own client (its token, the shared limiter) and
 * state; a dry run (`dryRun`) fetches and computes the same way and writes nothing.
 */
export function stepContext(
  deps: Pick<AccountSyncDeps, "sql" | "config" | "limiter" | "fetch">,
  account: SyncAccount,
  access: { token: string; stats: ThreadsApiStats; log: Logger; signal?: AbortSignal },
  dryRun: boolean,
): StepContext {
  const { token, stats, log, signal } = access;
  const client = new ThreadsApiClient({
    baseUrl: deps.config.THREADS_API_BASE_URL,
    accessToken: token,
    limiter: deps.limiter,
    stats,
    logger: log,
    fetch: deps.fetch,
    signal,
  });
  return { sql: deps.sql, client, account, dryRun, log, insightConcurrency: 8, signal };
}
