/**
 * One account of a run: load it and its token, run the three steps in order (posts, metrics,
 * account insights) with a sync_logs row each, decide the account's outcome, and record it
 * with finish_run_account.
 *
 * Outcome policy (DESIGN section 5):
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
import { ThreadsApiError, toSyncLogError } from "../threads/errors.ts";
import { type SyncLogEntry, syncLogRow, writeSyncLog } from "../jobs/sync-log.ts";
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

/** A claimed account, as claim_run_account_for_sync describes it (one round trip). */
export interface ClaimedAccount {
  account_id: string;
  workspace_id: string;
  threads_user_id: string;
  username: string;
  last_synced_at: Date | null;
  token_id: string | null;
  access_token_encrypted: string | null;
  token_expires_at: Date | null;
  token_rejected_at: Date | null;
  attempts: number;
  run_started_at: Date;
  calls_24h: number;
  /** Steps an earlier attempt of this run completed. */
  steps_done: string[];
}

/**
 * Claims the run's next due account with what its sync needs (its row and token, the 24-hour
 * call count, the steps done before) in one call; undefined when none is claimable now.
 */
export async function claimAccount(
  sql: Sql,
  runId: string,
  worker: string,
  lease: string,
): Promise<ClaimedAccount | undefined> {
  const [row] = await sql<ClaimedAccount[]>`
    select * from public.claim_run_account_for_sync(${runId}, ${worker}, ${lease}::interval)`;
  return row;
}

/**
 * The account's API calls in the last 24 hours, as a SQL expression over `a` (the account):
 * the sum of its steps' calls (sync runs and dry runs alike), which the budget check reads.
 */
export function callsIn24Hours(sql: Sql) {
  return sql`public.account_api_calls_24h(a.id)`;
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
  row: ClaimedAccount,
  worker: string,
): Promise<AccountResult> {
  const started = Date.now();
  const accountId = row.account_id;
  const log = deps.log.child({ account_id: accountId });
  const logs = new StepLogs(deps.sql, runId, accountId, row.attempts);
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
    await deps.sql`select public.finish_run_account_with_logs(${runId}, ${accountId}, ${worker},
      ${status}, ${r.errorCode ?? null}, ${r.errorMessage ?? null}, ${retryAt ?? null},
      ${deps.sql.json(logs.take() as never)})`;
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
  const finishInterrupted = (
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
    logs.add(stop.step, stop.startedAt, {
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
    !row.access_token_encrypted || !row.token_expires_at || row.token_expires_at <= new Date() ||
    row.token_rejected_at
  ) {
    const message = `Account @${row.username} has no usable token (${
      row.token_rejected_at ? "rejected by the Threads API" : "missing or expired"
    }): reconnect it (npm run connect-account), or let token-refresh renew it`;
    logs.add("sync_posts", new Date(), {
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
    logs.add("sync_posts", new Date(), {
      status: "skipped",
      errorCode: "api_budget",
      errorMessage: message,
    });
    return finish(result("skipped", { errorCode: "api_budget", errorMessage: message }));
  }
  let token: string;
  try {
    token = await decrypt(row.access_token_encrypted, tokenKeys(deps.config), accountId);
  } catch (error) {
    const { code: errorCode, message } = tokenProblem(error, row.username);
    logs.add("sync_posts", new Date(), {
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
      id: accountId,
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
  const doneBefore = new Set(row.steps_done);
  for (const [step, run] of STEPS) {
    if (doneBefore.has(step)) {
      done++;
      continue;
    }
    const stepStarted = new Date();
    const before = { ...accountStats };
    const figures = () => stepFigures(accountStats, before, stepStarted);
    if (stopper) {
      logs.add(step, stepStarted, {
        status: "skipped",
        errorCode: stopper.kind,
        errorMessage:
          `[step ${step}, account @${row.username}] Not attempted: an earlier step stopped the account (${stopper.kind})`,
      });
      continue;
    }
    if (deps.breakerOpen?.()) {
      logs.add(step, stepStarted, {
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
      // The earlier step's row goes first: a retry of the account skips a step by its row.
      await logs.flush();
      const outcome: StepResult = await run(ctx);
      stepMs[step] = Date.now() - stepStarted.getTime();
      const partialError = outcome.error &&
        toSyncLogError(outcome.error, { step, account: `@${row.username}` });
      logs.add(step, stepStarted, {
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
      logs.add(step, stepStarted, {
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

/**
 * The account's sync_logs rows of this attempt, kept until they can ride on a database call
 * the account makes anyway: the last ones go with the account's finish
 * (finish_run_account_with_logs). Only a row a later step must not overtake is written on
 * its own (flush): a retry of the account skips the steps whose rows say completed.
 */
class StepLogs {
  #pending: SyncLogEntry[] = [];

  constructor(
    private readonly sql: Sql,
    private readonly runId: string,
    private readonly accountId: string,
    private readonly attempt: number,
  ) {}

  add(jobType: SyncLogEntry["jobType"], startedAt: Date, entry: StepLog): void {
    const { runId, accountId, attempt } = this;
    const completedAt = new Date();
    this.#pending.push({ runId, accountId, jobType, attempt, startedAt, completedAt, ...entry });
  }

  /** The rows not written yet, as finish_run_account_with_logs reads them (forgotten here). */
  take() {
    return this.#pending.splice(0).map(syncLogRow);
  }

  /** Writes the rows not written yet now. */
  async flush(): Promise<void> {
    for (const entry of this.#pending.splice(0)) await writeSyncLog(this.sql, entry);
  }
}
