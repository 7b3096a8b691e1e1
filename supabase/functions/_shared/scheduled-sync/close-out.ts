/**
 * What an invocation does once its pool stopped: finish the run when nothing is left (or the
 * breaker opened), else hand the rest to fresh invocations (top_up_sync_run, sent by pg_net
 * once this commits), or just leave it when this invocation got nowhere or lost the lock (the
 * next trigger resumes it); then the invocation's summary.
 */
import { finishWhenSettled } from "./breaker.ts";
import type { PoolResult, PoolRun } from "./pool.ts";
import type { RunnerDeps, RunSummary } from "./runner.ts";

/** Closes this invocation's part of the run and answers what it saw. */
export async function closeOut(
  deps: RunnerDeps,
  run: PoolRun,
  pool: PoolResult,
): Promise<RunSummary> {
  const { sql, config } = deps;
  const { runId, worker, breaker, log } = run;
  const spent = run.budget.spent();
  if (breaker.probedFirst) {
    await sql`select public.add_sync_run_figures(${runId}, ${
      sql.json({ probed_after_outage: true })
    })`;
  }
  if (pool.failed) {
    // The accounts it held go back to the run when their leases expire. The run is handed off
    // only when this invocation got somewhere; otherwise (the database keeps failing) the next
    // trigger resumes it, rather than a chain of invocations failing back to back.
    log.error("worker_failed", {
      error: String(pool.failed.reason),
      accounts_processed: pool.processed,
    });
  }
  const mayHandOff = !run.lockLost() && (pool.failed === undefined || pool.processed > 0);

  const [progress] = await sql`select * from public.run_progress(${runId})`;
  let status = "running";
  let handedOff = false;
  let error: RunSummary["error"];
  if (breaker.open) {
    error = breaker.error();
    // Accounts other workers still hold finish on their own; the rest are skipped.
    status = await finishWhenSettled(sql, runId, error);
    log.error("circuit_breaker_opened", { reason: error.message });
  } else if (progress.pending + progress.in_progress === 0) {
    [{ status }] = await sql`select public.finish_sync_run(${runId}) as status`;
  } else if (mayHandOff) {
    // Leaving: continuations replace this invocation (and any found gone), as many as the
    // run's unfinished accounts can use, sent by pg_net once this commits.
    const [{ queued }] = await sql`select public.top_up_sync_run(${runId}, ${worker}, true,
      ${config.SYNC_MAX_INVOCATIONS}, ${run.lease}::interval) as queued`;
    handedOff = true;
    log.info("run_handed_off", {
      unfinished: progress.pending + progress.in_progress,
      invocations_queued: queued,
      budget_spent: spent ?? "none",
    });
  }
  if (!handedOff) await sql`select public.leave_sync_run(${runId}, ${worker})`;
  error ??= pool.failed && {
    code: "worker_failed",
    message: `A worker of this invocation failed: ${String(pool.failed.reason)}`,
  };
  return summarise(deps, run, pool, { status, handedOff, error });
}

/** The invocation's summary, from the run's progress now, and its closing log line. */
async function summarise(
  deps: RunnerDeps,
  run: PoolRun,
  pool: PoolResult,
  end: Pick<RunSummary, "status" | "handedOff" | "error">,
): Promise<RunSummary> {
  const [final] = await deps.sql`select * from public.run_progress(${run.runId})`;
  const summary: RunSummary = {
    runId: run.runId,
    status: end.status,
    handedOff: end.handedOff,
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
      cpuMs: Math.round(run.budget.cpuMs()),
      accountsProcessed: pool.processed,
      apiCalls: run.apiStats.calls,
    },
    error: end.error,
  };
  run.log.info(end.status === "running" ? "run_invocation_finished" : "run_finished", {
    status: end.status,
    handed_off: end.handedOff,
    accounts: summary.accounts,
    duration_ms: summary.invocation.durationMs,
    cpu_ms: summary.invocation.cpuMs,
    api_calls: run.apiStats.calls,
  });
  return summary;
}
