/**
 * A sync run across invocations: start (or resume, or skip), work the run's accounts with a
 * pool of SYNC_BATCH_SIZE workers within the invocation's budgets (pool.ts, breaker.ts), then
 * finish the run or hand the rest to fresh invocations (close-out.ts). All state lives in the
 * database (begin_job_run, claim_run_account_for_sync, finish_run_account_with_logs,
 * top_up_sync_run, finish_sync_run; the lifecycle every job type shares is jobs/job-run.ts),
 * so an invocation killed at any line loses nothing: its accounts' leases expire and the next
 * invocation of the run, or the next trigger, takes them again.
 */
import type { ErrorCode } from "../jobs/error-codes.ts";
import type { Config } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import type { SyncRequest } from "./request.ts";
import { Breaker, previousRunTrippedBreaker } from "./breaker.ts";
import { type PoolRun, workAccounts } from "./pool.ts";
import { closeOut } from "./close-out.ts";
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
  error?: { code: ErrorCode; message: string };
}

const ttlOf = (config: Config) => `${config.SYNC_LOCK_TTL_MINUTES} minutes`;

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

/**
 * Works the run until it is done (then finishes it) or the budget is spent (then hands off):
 * joins the run and tops up its invocations, works its accounts with the pool (pool.ts) under
 * the breaker (breaker.ts) while a heartbeat renews the lock, then closes out (close-out.ts).
 * Returns what this invocation saw.
 */
export async function workRun(
  deps: RunnerDeps,
  runId: string,
  jobType: string,
): Promise<RunSummary> {
  const { sql, config } = deps;
  const lease = ttlOf(config);
  const worker = `scheduled-sync/${deps.invocationId}`;
  const budget = new InvocationBudget({
    startedAt: deps.invocationStartedAt,
    cpuAtStart: deps.invocationCpuAtStart,
    wallBudgetMs: config.SYNC_TIME_BUDGET_MS,
    cpuBudgetMs: config.SYNC_CPU_BUDGET_MS,
  });
  const log = deps.log.child({ run_id: runId, job_type: jobType });
  const queued = await joinRun(deps, runId, worker);
  const breaker = new Breaker(
    jobType === "scheduled_sync" && await previousRunTrippedBreaker(sql, runId),
  );
  log.info("run_invocation_started", {
    worker,
    budget_ms: budget.wallLeftMs(),
    cpu_budget_ms: config.SYNC_CPU_BUDGET_MS,
    probing: breaker.probing,
    invocations_queued: queued,
  });
  const heartbeat = startHeartbeat(
    async () => {
      const [{ ok }] = await sql`select public.heartbeat_sync_run(${runId}, ${worker},
        ${lease}::interval) as ok`;
      return ok;
    },
    // Often enough that top_up_sync_run sees a working invocation as live (30 s).
    Math.min(10_000, config.SYNC_LOCK_TTL_MINUTES * 60_000 / 5),
    log,
  );
  const run: PoolRun = {
    runId,
    worker,
    lease,
    budget,
    breaker,
    lockLost: () => heartbeat.lost(),
    apiStats: createThreadsApiStats(),
    log,
  };
  // The heartbeat stops, and the run is handed off or finished, only once every worker stopped.
  const pool = await workAccounts(deps, run);
  heartbeat.stop();
  budget.close();
  return closeOut(deps, run, pool);
}

/**
 * Enqueues the run's accounts (once per run: a continuation finds them there; enqueueing is
 * idempotent anyway), joins the run, and brings the invocations working it up to
 * SYNC_MAX_INVOCATIONS. Returns the continuations queued.
 */
async function joinRun(deps: RunnerDeps, runId: string, worker: string): Promise<number> {
  const { sql, config } = deps;
  const [{ request, enqueued }] = await sql`select j.metadata -> 'request' as request,
      exists (select from public.sync_run_accounts ra where ra.run_id = j.id) as enqueued
    from public.system_job_logs j where j.id = ${runId}`;
  if (!enqueued) {
    await sql`select public.enqueue_run_accounts(${runId}, ${request?.accountIds ?? null}::uuid[],
      ${request?.workspaceId ?? null}::uuid, ${request?.maxAccounts ?? null}::int)`;
  }
  await sql`select public.join_sync_run(${runId}, ${worker})`;
  const [{ queued }] = await sql`select public.top_up_sync_run(${runId}, ${worker}, false,
    ${config.SYNC_MAX_INVOCATIONS}, ${ttlOf(config)}::interval) as queued`;
  return queued;
}
