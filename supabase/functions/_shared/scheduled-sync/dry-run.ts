/**
 * A dry run: the accounts a real run would take (eligible_sync_accounts: active, usable token,
 * not paused or deferred unless named), fetched and computed by the same three steps with
 * `dryRun` set, so no synced data is written: the answer says what a real run would change.
 *
 * Bounded like a run: at most `maxAccounts` accounts (25 by default, 100 at most), within
 * SYNC_TIME_BUDGET_MS (accounts not reached are answered as not attempted), and on the record:
 * its API calls spend each account's 24-hour call budget, so it writes a 'dry_run' run row
 * with one sync_logs row per account (metadata.api_calls), which the budget check sums like
 * any sync's; an account already near its budget is skipped, as a run would. One account's
 * problem (an undecryptable token, an API error) is that account's error in the answer.
 */
import type { ErrorCode } from "../jobs/error-codes.ts";
import { decrypt } from "../crypto.ts";
import { tokenKeys } from "../platform/config.ts";
import { DeadlineReached, deadlineSignal } from "../jobs/deadline.ts";
import { toSyncLogError } from "../jobs/sync-log-error.ts";
import type { RunnerDeps } from "./runner.ts";
import { DRY_RUN_DEFAULT_ACCOUNTS, type SyncRequest } from "./request.ts";
import { callBudgetSpent, callsIn24Hours, tokenProblem } from "./account-checks.ts";
import { STEPS } from "./account-steps.ts";
import { writeSyncLog } from "../jobs/sync-log.ts";
import { createThreadsApiStats } from "../threads-api.ts";
import { stepContext } from "./account.ts";

interface Candidate {
  id: string;
  workspace_id: string;
  threads_user_id: string;
  username: string;
  access_token_encrypted: string;
  calls_24h: number;
}

type AccountStatus = "completed" | "partial" | "failed" | "skipped";

interface DryRunAccount {
  accountId: string;
  username: string;
  status: AccountStatus;
  apiCalls: number;
  steps: Record<string, unknown>;
  error?: { code: ErrorCode; message: string };
}

export async function dryRunSync(deps: RunnerDeps, request: SyncRequest) {
  const started = Date.now();
  const deadline = deps.invocationStartedAt + deps.config.SYNC_TIME_BUDGET_MS;
  const scope = {
    accountIds: request.accountIds ?? null,
    workspaceId: request.workspaceId ?? null,
    maxAccounts: request.maxAccounts ?? DRY_RUN_DEFAULT_ACCOUNTS,
  };
  const candidates = await deps.sql<Candidate[]>`
    select a.id, a.workspace_id, a.threads_user_id, a.username, t.access_token_encrypted,
      ${callsIn24Hours(deps.sql)} as calls_24h
    from public.eligible_sync_accounts(${scope.accountIds}::uuid[], ${scope.workspaceId}::uuid,
      ${scope.maxAccounts}) a
    join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
      and t.is_primary and t.revoked_at is null
    order by a.last_synced_at nulls first, a.id`;
  const [{ run_id: runId }] = await deps.sql`
    select public.begin_dry_run(${deps.sql.json(scope)}) as run_id`;
  const log = deps.log.child({ run_id: runId, job_type: "dry_run" });

  const results: DryRunAccount[] = [];
  const notAttempted: { accountId: string; username: string }[] = [];
  // Steps stop at the budget too (between pages and chunks, and calls in flight).
  const stopAt = deadlineSignal(deadline);
  for (const account of candidates) {
    if (Date.now() >= deadline) {
      notAttempted.push({ accountId: account.id, username: account.username });
      continue;
    }
    const accountStarted = new Date();
    const result = await dryRunAccount(deps, account, deadline, stopAt.signal);
    // Written as soon as the account is done, so its calls count even if the invocation dies.
    await writeSyncLog(deps.sql, {
      runId,
      accountId: account.id,
      jobType: "dry_run",
      status: result.status,
      startedAt: accountStarted,
      errorCode: result.error?.code,
      errorMessage: result.error?.message,
      metadata: {
        api_calls: result.apiCalls,
        steps: Object.fromEntries(
          Object.entries(result.steps).map(([name, s]) => [name, (s as { status: string }).status]),
        ),
      },
    });
    results.push(result);
  }
  stopAt.cancel();
  if (notAttempted.length > 0) {
    log.warn("dry_run_out_of_time", {
      not_attempted: notAttempted.length,
      budget_ms: deps.config.SYNC_TIME_BUDGET_MS,
    });
  }
  const [{ status }] = await deps.sql`
    select public.finish_dry_run(${runId}, ${notAttempted.length}) as status`;
  return {
    dryRun: true,
    // No synced data (posts, snapshots, insights, account state) was written; the dry run's
    // own record is the run row `runId` and its sync_logs rows.
    written: false,
    runId,
    status,
    accounts: results,
    notAttempted,
    apiCalls: results.reduce((sum, r) => sum + r.apiCalls, 0),
    durationMs: Date.now() - started,
  };
}

/** One account's dry run: its steps until one fails to start or the deadline passes. */
async function dryRunAccount(
  deps: RunnerDeps,
  account: Candidate,
  deadline: number,
  signal: AbortSignal,
): Promise<DryRunAccount> {
  const who = `@${account.username}`;
  const base = { accountId: account.id, username: account.username, apiCalls: 0, steps: {} };
  const overBudget = callBudgetSpent(deps.config, account.username, account.calls_24h);
  if (overBudget) {
    return {
      ...base,
      status: "skipped",
      error: { code: "api_budget", message: `${overBudget}: not looked at` },
    };
  }
  let token: string;
  try {
    token = await decrypt(account.access_token_encrypted, tokenKeys(deps.config), account.id);
  } catch (error) {
    return { ...base, status: "failed", error: tokenProblem(error, account.username) };
  }
  const stats = createThreadsApiStats();
  const ctx = stepContext(
    deps,
    {
      id: account.id,
      workspaceId: account.workspace_id,
      threadsUserId: account.threads_user_id,
      username: account.username,
    },
    { token, stats, log: deps.log.child({ account_id: account.id }), signal },
    true,
  );
  const steps: Record<string, unknown> = {};
  let completed = 0;
  let error: { code: ErrorCode; message: string } | undefined;
  for (const [name, step] of STEPS) {
    if (Date.now() >= deadline) {
      steps[name] = { status: "not_attempted" };
      error ??= {
        code: "time_budget",
        message: `[step ${name}, account ${who}] Not attempted: the dry run's time budget ` +
          `(SYNC_TIME_BUDGET_MS ${deps.config.SYNC_TIME_BUDGET_MS}) was spent`,
      };
      continue;
    }
    try {
      const outcome = await step(ctx);
      steps[name] = { status: outcome.status, ...outcome.detail };
      if (outcome.status === "completed") completed++;
      else if (outcome.error) error ??= toSyncLogError(outcome.error, { step: name, account: who });
    } catch (thrown) {
      const logged: { code: ErrorCode; message: string } = thrown instanceof DeadlineReached
        ? { code: "time_budget", message: `[step ${name}, account ${who}] ${thrown.message}` }
        : toSyncLogError(thrown, { step: name, account: who });
      steps[name] = { status: "failed", error: logged };
      error ??= logged;
    }
  }
  const status = completed === STEPS.length ? "completed" : completed > 0 ? "partial" : "failed";
  return {
    ...base,
    status,
    apiCalls: stats.calls,
    steps,
    error: status === "completed" ? undefined : error ?? {
      code: "internal_error",
      message: `[account ${who}] Cannot finish the dry run of the account: a step did not complete`,
    },
  };
}
