/**
 * An account's three steps in order (posts, metrics, account insights), each with its
 * sync_logs row. A later attempt in the same run goes on from the step the earlier one was in;
 * a step is not attempted after one that stopped the account (an expired token, a rate limit)
 * or once the run's circuit breaker is open; at the invocation's deadline the steps stop and
 * the account goes back to the run (`interrupted`).
 */
import type { ErrorCode } from "../jobs/error-codes.ts";
import { DeadlineReached } from "../jobs/deadline.ts";
import type { SyncLogEntry } from "../jobs/sync-log.ts";
import { ThreadsApiError } from "../threads/errors.ts";
import { toSyncLogError } from "../jobs/sync-log-error.ts";
import {
  type StepContext,
  syncAccountInsightsForAccount,
  syncMetricsForAccount,
  syncPostsForAccount,
} from "../sync.ts";
import type { ThreadsApiStats } from "../threads-api.ts";
import type { AccountAttempt } from "./account.ts";

export const STEPS = [
  ["sync_posts", syncPostsForAccount],
  ["sync_metrics", syncMetricsForAccount],
  ["sync_account_insights", syncAccountInsightsForAccount],
] as const;

type StepName = SyncLogEntry["jobType"];

/** A step cut off by the invocation's deadline. */
export interface Interruption {
  step: StepName;
  error: DeadlineReached;
  startedAt: Date;
  figures: Record<string, number>;
}

/** What the steps came to, for the outcome (account-outcome.ts). */
export interface StepsOutcome {
  /** Steps completed, in this attempt or an earlier one. */
  done: number;
  /** Steps that completed with API calls: proof the API answered this account. */
  apiStepsDone: number;
  /** The error that stopped the account's later steps. */
  stopper?: ThreadsApiError;
  firstError?: { code: ErrorCode; message: string; trouble: boolean };
  interrupted?: Interruption;
  stepMs: Record<string, number>;
  apiCalls: number;
}

/** API failures that say nothing about the account but much about the API. */
const API_TROUBLE = new Set(["transient", "bad_response", "rate_limited"]);

/** Runs the account's steps with `ctx`; `stats` are the account's API counters. */
export async function runSteps(
  attempt: AccountAttempt,
  ctx: StepContext,
  stats: ThreadsApiStats,
): Promise<StepsOutcome> {
  const { deps, row, logs } = attempt;
  const out: StepsOutcome = { done: 0, apiStepsDone: 0, stepMs: {}, apiCalls: 0 };
  // A later attempt in the same run (after a deadline or a lost worker) goes on from the step
  // it was in: the steps an earlier attempt completed are not done again.
  const doneBefore = new Set(row.steps_done);
  for (const [step, run] of STEPS) {
    if (doneBefore.has(step)) {
      out.done++;
      continue;
    }
    const startedAt = new Date();
    const where = `[step ${step}, account @${row.username}] Not attempted:`;
    if (out.stopper) {
      logs.add(step, startedAt, {
        status: "skipped",
        errorCode: out.stopper.kind,
        errorMessage: `${where} an earlier step stopped the account (${out.stopper.kind})`,
      });
      continue;
    }
    if (deps.breakerOpen?.()) {
      logs.add(step, startedAt, {
        status: "skipped",
        errorCode: "api_unavailable",
        errorMessage: `${where} the run stopped calling the Threads API (circuit breaker open)`,
      });
      out.firstError ??= {
        code: "api_unavailable",
        message: "circuit breaker open",
        trouble: true,
      };
      continue;
    }
    if (deps.signal?.aborted) {
      const error = new DeadlineReached(`before step ${step}`);
      out.interrupted = { step, error, startedAt, figures: stepFigures(stats, stats, startedAt) };
      break;
    }
    if (!await runStep(attempt, ctx, stats, [step, run], out)) break;
  }
  out.apiCalls = stats.calls;
  return out;
}

/** Runs one step and records it in `out`; false when the deadline cut it off. */
async function runStep(
  { row, logs }: AccountAttempt,
  ctx: StepContext,
  stats: ThreadsApiStats,
  [step, run]: typeof STEPS[number],
  out: StepsOutcome,
): Promise<boolean> {
  const startedAt = new Date();
  const before = { ...stats };
  const figures = () => stepFigures(stats, before, startedAt);
  const where = { step, account: `@${row.username}` };
  try {
    // The earlier step's row goes first: a retry of the account skips a step by its row.
    await logs.flush();
    const outcome = await run(ctx);
    out.stepMs[step] = Date.now() - startedAt.getTime();
    const partialError = outcome.error && toSyncLogError(outcome.error, where);
    logs.add(step, startedAt, {
      status: outcome.status,
      items: outcome.items,
      errorCode: partialError?.code,
      errorMessage: partialError?.message,
      metadata: { ...outcome.detail, ...figures() },
    });
    if (outcome.status === "completed") {
      out.done++;
      if (stats.calls > before.calls) out.apiStepsDone++;
    } else if (partialError) {
      out.firstError ??= { ...partialError, trouble: API_TROUBLE.has(partialError.code) };
      if (outcome.error?.kind === "rate_limited") out.stopper = outcome.error;
    }
  } catch (error) {
    out.stepMs[step] = Date.now() - startedAt.getTime();
    if (error instanceof DeadlineReached) {
      // What the step wrote before the deadline is kept (pages and chunks are durable).
      out.interrupted = { step, error, startedAt, figures: figures() };
      return false;
    }
    const logged = toSyncLogError(error, where);
    logs.add(step, startedAt, {
      status: "failed",
      errorCode: logged.code,
      errorMessage: logged.message,
      metadata: figures(),
    });
    out.firstError ??= { ...logged, trouble: API_TROUBLE.has(logged.code) };
    if (
      error instanceof ThreadsApiError &&
      (error.kind === "auth_expired" || error.kind === "rate_limited")
    ) out.stopper = error;
  }
  return true;
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
