/**
 * One account of a run: load it and its token, run the three steps in order (posts, metrics,
 * account insights) with a sync_logs row each, decide the account's outcome, and record it
 * with finish_run_account.
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
import { decrypt, TokenCryptoError } from "../crypto.ts";
import { DeadlineReached } from "../jobs/deadline.ts";
import { type Config, tokenKeys } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import { toSyncLogError } from "../jobs/sync-log-error.ts";
import { ThreadsApiError } from "../threads/errors.ts";
import { type SyncLogEntry, writeSyncLog } from "../jobs/sync-log.ts";
import type { Logger } from "../platform/log.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import {
  type StepContext,
  type StepResult,
  syncAccountInsightsForAccount,
  syncMetricsForAccount,
  syncPostsForAccount,
} from "../sync.ts";
import { createThreadsApiStats, ThreadsApiClient, type ThreadsApiStats } from "../threads-api.ts";

export type AccountOutcome = "completed" | "partial" | "failed" | "skipped" | "retry";

export const STEPS = [
  ["sync_posts", syncPostsForAccount],
  ["sync_metrics", syncMetricsForAccount],
  ["sync_account_insights", syncAccountInsightsForAccount],
] as const;

/** A run retries an account at most this many attempts in all. */
export const MAX_ATTEMPTS = 3;
/** A cool-down longer than this is not waited for inside the run: the next run takes it. */
export const MAX_IN_RUN_RETRY_DELAY_MS = 10 * 60_000;
const TRANSIENT_RETRY_DELAY_MS = 15_000;
/** Back off an account that has spent this share of its 24-hour call budget ... */
export const BUDGET_BACKOFF_SHARE = 0.8;
/** ... for this long (its oldest calls leave the rolling window meanwhile). */
const BUDGET_BACKOFF_MS = 60 * 60_000;
const DEFAULT_RATE_LIMIT_DELAY_MS = 60_000;

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
  errorCode?: string;
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

interface AccountRow {
  id: string;
  workspace_id: string;
  threads_user_id: string;
  username: string;
  last_synced_at: Date | null;
  token_id: string | null;
  access_token_encrypted: string | null;
  expires_at: Date | null;
  rejected_at: Date | null;
  attempts: number;
  run_started_at: Date;
  calls_24h: number;
}

/**
 * The account's API calls in the last 24 hours, as a SQL expression over `a` (the account):
 * the sum of its steps' calls (sync runs and dry runs alike), which the budget check reads.
 */
export function callsIn24Hours(sql: Sql) {
  return sql`(select coalesce(sum((s.metadata ->> 'api_calls')::int), 0)::int
    from public.sync_logs s
    where s.workspace_threads_account_id = a.id and s.completed_at > now() - interval '24 hours')`;
}

/** Why an account is left alone for its 24-hour call budget, or undefined when it is not. */
export function callBudgetSpent(config: Config, username: string, calls: number) {
  const budget = config.SYNC_ACCOUNT_DAILY_CALL_BUDGET;
  if (calls < budget * BUDGET_BACKOFF_SHARE) return undefined;
  return `Account @${username} made ${calls} API calls in the last 24 hours, over ${
    BUDGET_BACKOFF_SHARE * 100
  }% of its budget of ${budget}`;
}

/** A token that cannot be decrypted, as an error code and a message an operator can act on. */
export function tokenProblem(error: unknown, username: string): { code: string; message: string } {
  // token_mismatch: a ciphertext of another account (v2 binds each token to its account).
  const code = error instanceof TokenCryptoError ? error.code : "token_unreadable";
  const detail = error instanceof TokenCryptoError
    ? error.message
    : "the token cannot be decrypted";
  const hint = code === "token_unreadable"
    ? " (check TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_KEYS_PREVIOUS)"
    : "";
  return { code, message: `Account @${username}: ${detail}${hint}` };
}

/** A step cut off by the invocation's deadline. */
interface Interruption {
  step: SyncLogEntry["jobType"];
  error: DeadlineReached;
  startedAt: Date;
  figures: Record<string, number>;
}

/** API failures that say nothing about the account but much about the API. */
const API_TROUBLE = new Set(["transient", "bad_response", "rate_limited"]);

/** Syncs one claimed account of run `runId` and records its outcome. */
export async function syncClaimedAccount(
  deps: AccountSyncDeps,
  runId: string,
  accountId: string,
  worker: string,
): Promise<AccountResult> {
  const started = Date.now();
  const log = deps.log.child({ account_id: accountId });
  const [row] = await deps.sql<AccountRow[]>`
    select a.id, a.workspace_id, a.threads_user_id, a.username, a.last_synced_at,
      t.id as token_id, t.access_token_encrypted, t.expires_at, t.rejected_at, ra.attempts,
      j.started_at as run_started_at, ${callsIn24Hours(deps.sql)} as calls_24h
    from public.sync_run_accounts ra
    join public.system_job_logs j on j.id = ra.run_id
    join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
    left join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
      and t.is_primary and t.revoked_at is null
    where ra.run_id = ${runId} and ra.workspace_threads_account_id = ${accountId}`;
  const result = (outcome: AccountOutcome, extra: Partial<AccountResult> = {}): AccountResult => ({
    accountId,
    outcome,
    apiTrouble: false,
    durationMs: Date.now() - started,
    apiCalls: 0,
    stepMs: {},
    ...extra,
  });
  const finish = async (r: AccountResult, retryAt?: Date) => {
    const status = r.outcome === "retry" ? "failed" : r.outcome;
    await deps.sql`select public.finish_run_account(${runId}, ${accountId}, ${worker}, ${status},
      ${r.errorCode ?? null}, ${r.errorMessage ?? null}, ${retryAt ?? null})`;
    log.info("account_finished", {
      outcome: r.outcome,
      error_code: r.errorCode,
      duration_ms: r.durationMs,
      api_calls: r.apiCalls,
      attempt: row?.attempts,
      retry_at: retryAt?.toISOString(),
    });
    return r;
  };

  /**
   * An account stopped at the invocation's deadline goes back to the run for the next
   * invocation; after MAX_ATTEMPTS such stops (an account no invocation can finish: a very slow
   * API for that user) it ends failed, so it never holds up the run or the runs after it.
   */
  const finishInterrupted = async (
    stop: Interruption,
    stepsDone: number,
    base: Partial<AccountResult>,
  ) => {
    const where = `[step ${stop.step}, account @${row.username}]`;
    const final = row.attempts >= MAX_ATTEMPTS;
    const message = final
      ? `${where} Gave up after ${row.attempts} invocations each reached its time budget ` +
        `(SYNC_TIME_BUDGET_MS) before this account's sync ended: the Threads API is very slow ` +
        `for this account; what was written is kept and the next run goes on from there`
      : `${where} ${stop.error.message}: the next invocation of the run continues it`;
    // The cut-off step's row keeps its API calls (the 24-hour budget and the run's figures).
    await logStep(deps.sql, runId, accountId, row.attempts, stop.step, stop.startedAt, {
      status: final ? "failed" : "skipped",
      errorCode: "time_budget",
      errorMessage: message,
      metadata: stop.figures,
    });
    const outcome = final ? (stepsDone > 0 ? "partial" : "failed") : "retry";
    const r = result(outcome, {
      ...base,
      apiTrouble: false,
      errorCode: "time_budget",
      errorMessage: message,
    });
    return final ? finish(r) : finish(r, new Date());
  };

  if (
    !row.access_token_encrypted || !row.expires_at || row.expires_at <= new Date() ||
    row.rejected_at
  ) {
    const message = `Account @${row.username} has no usable token (${
      row.rejected_at ? "rejected by the Threads API" : "missing or expired"
    }): reconnect it (npm run connect-account), or let token-refresh renew it`;
    await logStep(deps.sql, runId, accountId, row.attempts, "sync_posts", new Date(), {
      status: "skipped",
      errorCode: "token_expired",
      errorMessage: message,
    });
    return finish(result("skipped", { errorCode: "token_expired", errorMessage: message }));
  }
  // Synced by another run (a manual sync) since this run started: already fresh.
  if (row.last_synced_at && row.last_synced_at >= row.run_started_at) {
    log.info("account_already_fresh", { last_synced_at: row.last_synced_at.toISOString() });
    return finish(result("completed"));
  }
  // Near the account's 24-hour call budget: back off before the API has to refuse.
  const overBudget = callBudgetSpent(deps.config, row.username, row.calls_24h);
  if (overBudget) {
    const until = new Date(Date.now() + BUDGET_BACKOFF_MS);
    const message = `${overBudget}: deferred until ${until.toISOString()}`;
    await deps.sql`select public.defer_account_sync(${accountId}, ${until})`;
    await logStep(deps.sql, runId, accountId, row.attempts, "sync_posts", new Date(), {
      status: "skipped",
      errorCode: "api_budget",
      errorMessage: message,
    });
    return finish(result("skipped", { errorCode: "api_budget", errorMessage: message }));
  }
  let token: string;
  try {
    token = await decrypt(row.access_token_encrypted, tokenKeys(deps.config), row.id);
  } catch (error) {
    const { code: errorCode, message } = tokenProblem(error, row.username);
    await logStep(deps.sql, runId, accountId, row.attempts, "sync_posts", new Date(), {
      status: "failed",
      errorCode,
      errorMessage: message,
    });
    return finish(result("failed", { errorCode, errorMessage: message }));
  }

  // The account's own counters: its calls per step go to sync_logs (the 24-hour budget query
  // sums them), and are added to the invocation's totals at the end.
  const accountStats = createThreadsApiStats();
  const client = new ThreadsApiClient({
    baseUrl: deps.config.THREADS_API_BASE_URL,
    accessToken: token,
    limiter: deps.limiter,
    stats: accountStats,
    logger: log,
    fetch: deps.fetch,
    signal: deps.signal,
  });
  const ctx: StepContext = {
    sql: deps.sql,
    client,
    account: {
      id: row.id,
      workspaceId: row.workspace_id,
      threadsUserId: row.threads_user_id,
      username: row.username,
    },
    dryRun: false,
    log,
    insightConcurrency: 8,
    signal: deps.signal,
  };

  const stepMs: Record<string, number> = {};
  let done = 0;
  // Steps that completed with API calls: proof the API answered this account.
  let apiStepsDone = 0;
  let stopper: ThreadsApiError | undefined;
  let firstError: { code: string; message: string; trouble: boolean } | undefined;
  let interrupted: Interruption | undefined;
  // A later attempt in the same run (after a deadline or a lost worker) goes on from the step
  // it was in: the steps an earlier attempt completed are not done again.
  const doneBefore = row.attempts > 1
    ? new Set(
      (await deps.sql<{ job_type: string }[]>`select distinct job_type from public.sync_logs
        where run_id = ${runId} and workspace_threads_account_id = ${accountId}
          and status = 'completed'`).map((r) => r.job_type),
    )
    : new Set<string>();
  for (const [step, run] of STEPS) {
    if (doneBefore.has(step)) {
      done++;
      continue;
    }
    const stepStarted = new Date();
    const before = { ...accountStats };
    const figures = () => stepFigures(accountStats, before, stepStarted);
    if (stopper) {
      await logStep(deps.sql, runId, accountId, row.attempts, step, stepStarted, {
        status: "skipped",
        errorCode: stopper.kind,
        errorMessage:
          `[step ${step}, account @${row.username}] Not attempted: an earlier step stopped the account (${stopper.kind})`,
      });
      continue;
    }
    if (deps.breakerOpen?.()) {
      await logStep(deps.sql, runId, accountId, row.attempts, step, stepStarted, {
        status: "skipped",
        errorCode: "api_unavailable",
        errorMessage:
          `[step ${step}, account @${row.username}] Not attempted: the run stopped calling the Threads API (circuit breaker open)`,
      });
      firstError ??= { code: "api_unavailable", message: "circuit breaker open", trouble: true };
      continue;
    }
    if (deps.signal?.aborted) {
      const error = new DeadlineReached(`before step ${step}`);
      interrupted = { step, error, startedAt: stepStarted, figures: figures() };
      break;
    }
    try {
      const outcome: StepResult = await run(ctx);
      stepMs[step] = Date.now() - stepStarted.getTime();
      const partialError = outcome.error &&
        toSyncLogError(outcome.error, { step, account: `@${row.username}` });
      await logStep(deps.sql, runId, accountId, row.attempts, step, stepStarted, {
        status: outcome.status,
        items: outcome.items,
        errorCode: partialError?.code,
        errorMessage: partialError?.message,
        metadata: { ...outcome.detail, ...figures() },
      });
      if (outcome.status === "completed") {
        done++;
        if (accountStats.calls > before.calls) apiStepsDone++;
      } else if (partialError) {
        firstError ??= { ...partialError, trouble: API_TROUBLE.has(partialError.code) };
        if (outcome.error?.kind === "rate_limited") stopper = outcome.error;
      }
    } catch (error) {
      stepMs[step] = Date.now() - stepStarted.getTime();
      if (error instanceof DeadlineReached) {
        // What the step wrote before the deadline is kept (pages and chunks are durable).
        interrupted = { step, error, startedAt: stepStarted, figures: figures() };
        break;
      }
      const logged = toSyncLogError(error, { step, account: `@${row.username}` });
      await logStep(deps.sql, runId, accountId, row.attempts, step, stepStarted, {
        status: "failed",
        errorCode: logged.code,
        errorMessage: logged.message,
        metadata: figures(),
      });
      firstError ??= { ...logged, trouble: API_TROUBLE.has(logged.code) };
      if (
        error instanceof ThreadsApiError &&
        (error.kind === "auth_expired" || error.kind === "rate_limited")
      ) stopper = error;
    }
  }

  for (const key of Object.keys(accountStats) as (keyof ThreadsApiStats)[]) {
    deps.apiStats[key] += accountStats[key];
  }
  const base = {
    errorCode: firstError?.code,
    errorMessage: firstError?.message,
    apiTrouble: apiStepsDone === 0 && (firstError?.trouble ?? false),
    apiCalls: accountStats.calls,
    stepMs,
  };
  if (interrupted) return finishInterrupted(interrupted, done, base);
  if (done === STEPS.length) return finish(result("completed", { ...base, apiTrouble: false }));
  if (stopper?.kind === "auth_expired") {
    // Marked, so later runs leave the account alone until it is reconnected.
    await deps.sql`select public.mark_token_rejected(${row.token_id}, ${`auth_expired: ${
      firstError?.message ?? "the Threads API rejected the token"
    }`})`;
    return finish(result("skipped", {
      ...base,
      errorMessage:
        `${firstError?.message} — the Threads API rejected the token: reconnect the account or let token refresh replace it`,
    }));
  }
  const retryAt = retryTime(stopper, firstError?.code, row.attempts);
  if (retryAt) return finish(result("retry", base), retryAt);
  // A rate limit that outlasts the run: keep runs away from the account until it lifts.
  if (stopper?.kind === "rate_limited") {
    const until = new Date(Date.now() + (stopper.retryAfterMs ?? DEFAULT_RATE_LIMIT_DELAY_MS));
    await deps.sql`select public.defer_account_sync(${accountId}, ${until})`;
  }
  return finish(result(done > 0 ? "partial" : "failed", base));
}

/** A step's API figures (from the account's counters) and duration, for its sync_logs row. */
function stepFigures(now: ThreadsApiStats, before: ThreadsApiStats, started: Date) {
  return {
    api_calls: now.calls - before.calls,
    api_retries: now.retries - before.retries,
    api_rate_limit_errors: now.rateLimitErrors - before.rateLimitErrors,
    api_limiter_wait_ms: Math.round(now.limiterWaitMs - before.limiterWaitMs),
    duration_ms: Date.now() - started.getTime(),
  };
}

/** When to try the account again in this run, or undefined to leave it to the next run. */
function retryTime(
  stopper: ThreadsApiError | undefined,
  code: string | undefined,
  attempts: number,
) {
  if (attempts >= MAX_ATTEMPTS) return undefined;
  let delay: number | undefined;
  if (stopper?.kind === "rate_limited") delay = stopper.retryAfterMs ?? DEFAULT_RATE_LIMIT_DELAY_MS;
  else if (code === "transient") delay = TRANSIENT_RETRY_DELAY_MS;
  if (delay === undefined || delay > MAX_IN_RUN_RETRY_DELAY_MS) return undefined;
  return new Date(Date.now() + Math.max(delay, 1000));
}

type StepLog = Pick<SyncLogEntry, "status" | "items" | "errorCode" | "errorMessage" | "metadata">;

function logStep(
  sql: Sql,
  runId: string,
  accountId: string,
  attempt: number,
  step: SyncLogEntry["jobType"],
  startedAt: Date,
  entry: StepLog,
) {
  return writeSyncLog(sql, { runId, accountId, jobType: step, attempt, startedAt, ...entry });
}
