/**
 * An account's outcome (the policy in account.ts), recorded with finish_run_account_with_logs
 * together with its sync_logs rows not written yet: completed, skipped (token rejected),
 * retried later in the run (a short rate limit, a transient failure), back to the run for the
 * next invocation (the deadline), or partial / failed.
 */
import type { ErrorCode } from "../jobs/error-codes.ts";
import type { ThreadsApiError } from "../threads/errors.ts";
import type { AccountAttempt, AccountOutcome, AccountResult } from "./account.ts";
import { type Interruption, STEPS, type StepsOutcome } from "./account-steps.ts";

/** A run retries an account at most this many attempts in all. */
export const MAX_ATTEMPTS = 3;
/** A cool-down longer than this is not waited for inside the run: the next run takes it. */
export const MAX_IN_RUN_RETRY_DELAY_MS = 10 * 60_000;
const TRANSIENT_RETRY_DELAY_MS = 15_000;
const DEFAULT_RATE_LIMIT_DELAY_MS = 60_000;

/** The attempt's result with `outcome` (no API calls unless `extra` says). */
export function result(
  attempt: AccountAttempt,
  outcome: AccountOutcome,
  extra: Partial<AccountResult> = {},
): AccountResult {
  return {
    accountId: attempt.row.account_id,
    outcome,
    apiTrouble: false,
    durationMs: Date.now() - attempt.started,
    apiCalls: 0,
    stepMs: {},
    ...extra,
  };
}

/** Records `r` (a retry at `retryAt` when given) with the rows not written yet. */
export async function finishAccount(
  { deps, runId, worker, row, log, logs }: AccountAttempt,
  r: AccountResult,
  retryAt?: Date,
): Promise<AccountResult> {
  const status = r.outcome === "retry" ? "failed" : r.outcome;
  await deps.sql`select public.finish_run_account_with_logs(${runId}, ${row.account_id},
    ${worker}, ${status}, ${r.errorCode ?? null}, ${r.errorMessage ?? null}, ${retryAt ?? null},
    ${deps.sql.json(logs.take() as never)})`;
  log.info("account_finished", {
    outcome: r.outcome,
    error_code: r.errorCode,
    duration_ms: r.durationMs,
    api_calls: r.apiCalls,
    attempt: row.attempts,
    retry_at: retryAt?.toISOString(),
  });
  return r;
}

/** Decides the outcome of an account whose steps ran, and records it. */
export async function settleAccount(
  attempt: AccountAttempt,
  steps: StepsOutcome,
): Promise<AccountResult> {
  const { deps, row } = attempt;
  const { stopper, firstError } = steps;
  const base = {
    errorCode: firstError?.code,
    errorMessage: firstError?.message,
    apiTrouble: steps.apiStepsDone === 0 && (firstError?.trouble ?? false),
    apiCalls: steps.apiCalls,
    stepMs: steps.stepMs,
  };
  if (steps.interrupted) return finishInterrupted(attempt, steps.interrupted, steps.done, base);
  if (steps.done === STEPS.length) {
    return finishAccount(attempt, result(attempt, "completed", { ...base, apiTrouble: false }));
  }
  if (stopper?.kind === "auth_expired") {
    // Marked, so later runs leave the account alone until it is reconnected.
    await deps.sql`select public.mark_token_rejected(${row.token_id}, ${`auth_expired: ${
      firstError?.message ?? "the Threads API rejected the token"
    }`})`;
    return finishAccount(
      attempt,
      result(attempt, "skipped", {
        ...base,
        errorMessage:
          `${firstError?.message} — the Threads API rejected the token: reconnect the account or let token refresh replace it`,
      }),
    );
  }
  const retryAt = retryTime(stopper, firstError?.code, row.attempts);
  if (retryAt) return finishAccount(attempt, result(attempt, "retry", base), retryAt);
  // A rate limit that outlasts the run: keep runs away from the account until it lifts.
  if (stopper?.kind === "rate_limited") {
    const until = new Date(Date.now() + (stopper.retryAfterMs ?? DEFAULT_RATE_LIMIT_DELAY_MS));
    await deps.sql`select public.defer_account_sync(${row.account_id}, ${until})`;
  }
  return finishAccount(attempt, result(attempt, steps.done > 0 ? "partial" : "failed", base));
}

/**
 * An account stopped at the invocation's deadline goes back to the run for the next
 * invocation; after MAX_ATTEMPTS such stops (an account no invocation can finish: a very slow
 * API for that user) it ends failed, so it never holds up the run or the runs after it.
 */
function finishInterrupted(
  attempt: AccountAttempt,
  stop: Interruption,
  stepsDone: number,
  base: Partial<AccountResult>,
): Promise<AccountResult> {
  const { row } = attempt;
  const where = `[step ${stop.step}, account @${row.username}]`;
  const final = row.attempts >= MAX_ATTEMPTS;
  const message = final
    ? `${where} Gave up after ${row.attempts} invocations each reached its time budget ` +
      `(SYNC_TIME_BUDGET_MS) before this account's sync ended: the Threads API is very slow ` +
      `for this account; what was written is kept and the next run goes on from there`
    : `${where} ${stop.error.message}: the next invocation of the run continues it`;
  // The cut-off step's row keeps its API calls (the 24-hour budget and the run's figures).
  attempt.logs.add(stop.step, stop.startedAt, {
    status: final ? "failed" : "skipped",
    errorCode: "time_budget",
    errorMessage: message,
    metadata: stop.figures,
  });
  const outcome = final ? (stepsDone > 0 ? "partial" : "failed") : "retry";
  const r = result(attempt, outcome, {
    ...base,
    apiTrouble: false,
    errorCode: "time_budget",
    errorMessage: message,
  });
  return final ? finishAccount(attempt, r) : finishAccount(attempt, r, new Date());
}

/** When to try the account again in this run, or undefined to leave it to the next run. */
function retryTime(
  stopper: ThreadsApiError | undefined,
  code: ErrorCode | undefined,
  attempts: number,
) {
  if (attempts >= MAX_ATTEMPTS) return undefined;
  let delay: number | undefined;
  if (stopper?.kind === "rate_limited") delay = stopper.retryAfterMs ?? DEFAULT_RATE_LIMIT_DELAY_MS;
  else if (code === "transient") delay = TRANSIENT_RETRY_DELAY_MS;
  if (delay === undefined || delay > MAX_IN_RUN_RETRY_DELAY_MS) return undefined;
  return new Date(Date.now() + Math.max(delay, 1000));
}
