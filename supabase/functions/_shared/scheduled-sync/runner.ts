/**
 * A sync run across invocations: start (or resume, or skip), work the run's accounts with a
 * pool of SYNC_BATCH_SIZE workers within the invocation's time budget, then finish the run or
 * hand the rest to a fresh invocation. All state lives in the database (begin_sync_run,
 * claim_next_run_account, finish_run_account, top_up_sync_run, finish_sync_run; the lifecycle
 * every job type shares is jobs/job-run.ts), so an
 * invocation killed at any line loses nothing: its accounts' leases expire and the next
 * invocation of the run, or the next trigger, takes them again.
 *
 * The pool claims accounts one by one, so one slow account holds up one worker, not a batch.
 * A circuit breaker stops calling the API when account after account fails for API reasons
 * (an outage, an app-wide block): the rest of the run is recorded as skipped with the reason,
 * and the next scheduled run probes with one account before going wide.
 */
import type { Config } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import type { SyncRequest } from "./request.ts";
import { type AccountResult, claimAccount, syncClaimedAccount } from "./account.ts";
import { createThreadsApiStats } from "../threads-api.ts";
import { InvocationBudget } from "../jobs/invocation-budget.ts";
import {
  beginJobRun,
  continueJobRun,
  handOffJobRun,
  type JobRunStart,
  startHeartbeat,
} from "../jobs/job-run.ts";

export interface RunnerDeps {
  sql: Sql;
  config: Config;
  limiter: RateLimiter;
  log: Logger;
  /** Identifies this invocation in leases and logs. */
  invocationId: string;
  /** When this invocation started (ms since epoch): the time budget counts from here. */
  invocationStartedAt: number;
  /** The process CPU ms when it started (processCpuMs()): the CPU budget counts from here. */
  invocationCpuAtStart?: number;
  fetch?: typeof fetch;
}

export type StartOutcome = JobRunStart;

export interface RunSummary {
  runId: string;
  status: string;
  handedOff: boolean;
  accounts: {
    total: number;
    completed: number;
    partial: number;
    failed: number;
    skipped: number;
    unfinished: number;
  };
  invocation: { durationMs: number; cpuMs: number; accountsProcessed: number; apiCalls: number };
  error?: { code: string; message: string };
}

/** Accounts failing in a row for API reasons before the breaker opens. */
export const BREAKER_THRESHOLD = 5;

const ttlOf = (config: Config) => `${config.SYNC_LOCK_TTL_MINUTES} minutes`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts, resumes or joins the run the request asks for. */
export async function startRun(deps: RunnerDeps, request: SyncRequest): Promise<StartOutcome> {
  const ttl = ttlOf(deps.config);
  if (request.runId) {
    return continueJobRun(deps.sql, request.runId, ["scheduled_sync", "manual_sync"], ttl);
  }
  const manual = Boolean(request.accountIds || request.workspaceId);
  if (!manual) await recoverDeadRuns(deps);
  return beginJobRun(
    deps.sql,
    manual ? "manual_sync" : "scheduled_sync",
    manual ? "manual" : "cron",
    {
      accountIds: request.accountIds ?? null,
      workspaceId: request.workspaceId ?? null,
      maxAccounts: request.maxAccounts ?? null,
    },
    ttl,
  );
}

/**
 * Before a scheduled run: manual runs whose worker died are continued (scheduled ones are
 * resumed by begin_sync_run itself), and runs nobody resumed for 30 minutes are closed out.
 */
async function recoverDeadRuns(deps: RunnerDeps) {
  const ttl = ttlOf(deps.config);
  const orphans = await deps.sql`select public.claim_stale_manual_runs(${ttl}::interval) as id`;
  for (const { id } of orphans) {
    await handOffJobRun(deps.sql, id, ttl);
    deps.log.warn("stale_run_continued", { stale_run_id: id });
  }
  const [{ closed }] = await deps.sql`select public.close_stale_job_logs() as closed`;
  if (closed > 0) deps.log.warn("stale_runs_closed", { closed });
}

interface Breaker {
  consecutive: number;
  open: boolean;
  probing: boolean;
  last?: AccountResult;
}

/** Whether the last scheduled run stopped because the API was unavailable: then probe first. */
async function previousRunTrippedBreaker(deps: RunnerDeps, runId: string): Promise<boolean> {
  const [row] = await deps.sql`
    select error_code from public.system_job_logs
    where job_type = 'scheduled_sync' and status <> 'skipped' and id <> ${runId}
      and started_at < (select started_at from public.system_job_logs where id = ${runId})
    order by started_at desc limit 1`;
  return row?.error_code === "api_unavailable";
}

/**
 * Works the run until it is done (then finishes it) or the time budget is spent (then hands
 * off). Returns what this invocation saw.
 */
export async function workRun(
  deps: RunnerDeps,
  runId: string,
  jobType: string,
): Promise<RunSummary> {
  const { sql, config } = deps;
  const ttl = ttlOf(config);
  const worker = `scheduled-sync/${deps.invocationId}`;
  const budget = new InvocationBudget({
    startedAt: deps.invocationStartedAt,
    cpuAtStart: deps.invocationCpuAtStart,
    wallBudgetMs: config.SYNC_TIME_BUDGET_MS,
    cpuBudgetMs: config.SYNC_CPU_BUDGET_MS,
  });
  const log = deps.log.child({ run_id: runId, job_type: jobType });
  const apiStats = createThreadsApiStats();
  const [{ request, enqueued }] = await sql`select j.metadata -> 'request' as request,
      exists (select from public.sync_run_accounts ra where ra.run_id = j.id) as enqueued
    from public.system_job_logs j where j.id = ${runId}`;
  // Once per run (a continuation finds the accounts there; enqueueing is idempotent anyway).
  if (!enqueued) {
    await sql`select public.enqueue_run_accounts(${runId}, ${request?.accountIds ?? null}::uuid[],
      ${request?.workspaceId ?? null}::uuid, ${request?.maxAccounts ?? null}::int)`;
  }
  // Join the run, and bring the invocations working it up to SYNC_MAX_INVOCATIONS.
  await sql`select public.join_sync_run(${runId}, ${worker})`;
  const [{ queued }] = await sql`select public.top_up_sync_run(${runId}, ${worker}, false,
    ${config.SYNC_MAX_INVOCATIONS}, ${ttl}::interval) as queued`;
  const breaker: Breaker = {
    consecutive: 0,
    open: false,
    probing: jobType === "scheduled_sync" && await previousRunTrippedBreaker(deps, runId),
  };
  const probedFirst = breaker.probing;
  log.info("run_invocation_started", {
    worker,
    budget_ms: budget.wallLeftMs(),
    cpu_budget_ms: config.SYNC_CPU_BUDGET_MS,
    probing: breaker.probing,
    invocations_queued: queued,
  });

  // What stops every worker of the invocation (see mayClaim): the lock was lost (heartbeat), or
  // a worker failed (a database fault); the others finish the account in hand and claim no more.
  let crashed: unknown;
  const heartbeat = startHeartbeat(
    async () => {
      const [{ ok }] = await sql`select public.heartbeat_sync_run(${runId}, ${worker},
        ${ttl}::interval) as ok`;
      return ok;
    },
    // Often enough that top_up_sync_run sees a working invocation as live (30 s).
    Math.min(10_000, config.SYNC_LOCK_TTL_MINUTES * 60_000 / 5),
    log,
  );

  let processed = 0;
  const record = (r: AccountResult) => {
    processed++;
    if (r.outcome === "completed" || !r.apiTrouble) {
      breaker.consecutive = 0;
      breaker.probing = false;
    } else {
      breaker.consecutive++;
      breaker.last = r;
      if (breaker.probing || breaker.consecutive >= BREAKER_THRESHOLD) breaker.open = true;
    }
  };
  const mayClaim = () =>
    !budget.spent() && !heartbeat.lost() && !breaker.open && crashed === undefined;

  const slot = async (index: number) => {
    while (mayClaim()) {
      // While probing after an outage, one account goes first; the others wait for its result.
      if (breaker.probing && index > 0) {
        await sleep(200);
        continue;
      }
      const account = await claimAccount(sql, runId, worker, ttl);
      if (account) {
        record(
          await syncClaimedAccount(
            {
              sql,
              config,
              limiter: deps.limiter,
              log,
              apiStats,
              fetch: deps.fetch,
              breakerOpen: () => breaker.open,
              signal: budget.signal,
            },
            runId,
            account,
            worker,
          ),
        );
        if (config.SYNC_BATCH_DELAY_MS > 0) await sleep(config.SYNC_BATCH_DELAY_MS);
        continue;
      }
      const [progress] = await sql`select * from public.run_progress(${runId})`;
      if (progress.pending + progress.in_progress === 0) return;
      // Nothing left to claim and every account in flight is this invocation's own: its other
      // workers finish them, so this one stops instead of polling (the run ends ~1 s sooner).
      if (progress.pending === 0) {
        const [{ others }] = await sql`select count(*)::int as others
          from public.sync_run_accounts where run_id = ${runId} and status = 'in_progress'
            and claimed_by is distinct from ${worker}`;
        if (others === 0) return;
      }
      // Nothing claimable yet: a retry's cool-down, or accounts another worker holds.
      const dueIn = progress.next_attempt_at
        ? new Date(progress.next_attempt_at).getTime() - Date.now()
        : 1000;
      await sleep(Math.max(100, Math.min(dueIn, 2000, budget.wallLeftMs())));
    }
  };

  // allSettled: the heartbeat stops, and the run is handed off or finished, only once every
  // worker has stopped; a failed worker stops the others through the flag instead of leaving
  // them claiming with no lease renewal.
  const settled = await Promise.allSettled(
    Array.from({ length: config.SYNC_BATCH_SIZE }, (_, i) =>
      slot(i).catch((error) => {
        crashed ??= error;
        throw error;
      })),
  );
  heartbeat.stop();
  budget.close();
  const spent = budget.spent();
  if (probedFirst) {
    await sql`select public.add_sync_run_figures(${runId}, ${
      sql.json({ probed_after_outage: true })
    })`;
  }
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) {
    // The accounts it held go back to the run when their leases expire. The run is handed off
    // only when this invocation got somewhere; otherwise (the database keeps failing) the next
    // trigger resumes it, rather than a chain of invocations failing back to back.
    log.error("worker_failed", { error: String(failed.reason), accounts_processed: processed });
  }
  const mayHandOff = !heartbeat.lost() && (failed === undefined || processed > 0);

  const [progress] = await sql`select * from public.run_progress(${runId})`;
  let status = "running";
  let handedOff = false;
  let error: RunSummary["error"];
  if (breaker.open) {
    error = {
      code: "api_unavailable",
      message:
        `Stopped calling the Threads API after ${breaker.consecutive} account(s) in a row failed for API reasons${
          breaker.probing ? " (the probe after the previous run's outage failed)" : ""
        }; last: ${breaker.last?.errorCode}: ${breaker.last?.errorMessage}`,
    };
    // Accounts other workers still hold finish on their own; the rest are skipped.
    status = await finishWhenSettled(deps, runId, error);
    log.error("circuit_breaker_opened", { reason: error.message });
  } else if (progress.pending + progress.in_progress === 0) {
    [{ status }] = await sql`select public.finish_sync_run(${runId}) as status`;
  } else if (mayHandOff) {
    // Leaving: continuations replace this invocation (and any found gone), as many as the
    // run's unfinished accounts can use, sent by pg_net once this commits.
    const [{ queued }] = await sql`select public.top_up_sync_run(${runId}, ${worker}, true,
      ${config.SYNC_MAX_INVOCATIONS}, ${ttl}::interval) as queued`;
    handedOff = true;
    log.info("run_handed_off", {
      unfinished: progress.pending + progress.in_progress,
      invocations_queued: queued,
      budget_spent: spent ?? "none",
    });
  }
  if (!handedOff) await sql`select public.leave_sync_run(${runId}, ${worker})`;
  const [final] = await sql`select * from public.run_progress(${runId})`;
  const summary: RunSummary = {
    runId,
    status,
    handedOff,
    accounts: {
      total: final.total,
      completed: final.completed,
      partial: final.partial,
      failed: final.failed,
      skipped: final.skipped,
      unfinished: final.pending + final.in_progress,
    },
    invocation: {
      durationMs: Date.now() - deps.invocationStartedAt,
      cpuMs: Math.round(budget.cpuMs()),
      accountsProcessed: processed,
      apiCalls: apiStats.calls,
    },
    error: error ?? (failed && {
      code: "worker_failed",
      message: `A worker of this invocation failed: ${String(failed.reason)}`,
    }),
  };
  log.info(status === "running" ? "run_invocation_finished" : "run_finished", {
    status,
    handed_off: handedOff,
    accounts: summary.accounts,
    duration_ms: summary.invocation.durationMs,
    cpu_ms: summary.invocation.cpuMs,
    api_calls: apiStats.calls,
  });
  return summary;
}

/** Finishes a run the breaker stopped, once accounts in other workers' hands are done. */
async function finishWhenSettled(
  deps: RunnerDeps,
  runId: string,
  error: { code: string; message: string },
): Promise<string> {
  for (let i = 0; i < 60; i++) {
    const [p] = await deps.sql`select in_progress from public.run_progress(${runId})`;
    if (p.in_progress === 0) break;
    await sleep(500);
  }
  try {
    const [{ status }] = await deps.sql`select public.finish_sync_run(${runId}, ${error.code},
      ${error.message}) as status`;
    return status;
  } catch {
    // Still held elsewhere: its worker, or the next trigger, will finish the run.
    return "running";
  }
}
