/**
 * The invocation's pool of SYNC_BATCH_SIZE workers on one run. Each claims accounts one by one
 * (so one slow account holds up one worker, not a batch) until the budget is spent, the lock
 * is lost, the breaker opens, a worker fails, or nothing is left for it; when nothing is
 * claimable yet (a retry's cool-down, accounts held elsewhere) it waits a little and asks
 * again.
 */
import type { InvocationBudget } from "../jobs/invocation-budget.ts";
import type { Logger } from "../platform/log.ts";
import type { ThreadsApiStats } from "../threads-api.ts";
import { syncClaimedAccount } from "./account.ts";
import { claimAccount } from "./account-checks.ts";
import type { Breaker } from "./breaker.ts";
import type { RunnerDeps } from "./runner.ts";

export interface PoolRun {
  runId: string;
  /** This invocation's name in leases. */
  worker: string;
  /** The account lease (an interval, e.g. "5 minutes"). */
  lease: string;
  budget: InvocationBudget;
  breaker: Breaker;
  /** True once the heartbeat found the run's lock lost. */
  lockLost: () => boolean;
  apiStats: ThreadsApiStats;
  /** The run's logger (run_id, job_type). */
  log: Logger;
}

export interface PoolResult {
  /** Accounts this invocation finished (any outcome). */
  processed: number;
  /** The first worker that failed (a database fault), if any. */
  failed?: PromiseRejectedResult;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Works the run's accounts with the pool until every worker stopped. */
export async function workAccounts(deps: RunnerDeps, run: PoolRun): Promise<PoolResult> {
  const { sql, config } = deps;
  const { runId, worker, budget, breaker } = run;
  // What stops every worker (see mayClaim): the lock was lost (heartbeat), or a worker failed
  // (a database fault); the others finish the account in hand and claim no more.
  let crashed: unknown;
  let processed = 0;
  const mayClaim = () =>
    !budget.spent() && !run.lockLost() && !breaker.open && crashed === undefined;
  const accountDeps = {
    sql,
    config,
    limiter: deps.limiter,
    log: run.log,
    apiStats: run.apiStats,
    fetch: deps.fetch,
    breakerOpen: () => breaker.open,
    signal: budget.signal,
  };

  const slot = async (index: number) => {
    while (mayClaim()) {
      // While probing after an outage, one account goes first; the others wait for its result.
      if (breaker.probing && index > 0) {
        await sleep(200);
        continue;
      }
      const account = await claimAccount(sql, runId, worker, run.lease);
      if (account) {
        breaker.record(await syncClaimedAccount(accountDeps, runId, account, worker));
        processed++;
        if (config.SYNC_BATCH_DELAY_MS > 0) await sleep(config.SYNC_BATCH_DELAY_MS);
        continue;
      }
      const wait = await nothingClaimable(deps, run);
      if (wait === undefined) return;
      await sleep(wait);
    }
  };

  // allSettled: the run is handed off or finished only once every worker has stopped; a
  // failed worker stops the others through the flag instead of leaving them claiming with no
  // lease renewal.
  const settled = await Promise.allSettled(
    Array.from({ length: config.SYNC_BATCH_SIZE }, (_, i) =>
      slot(i).catch((error) => {
        crashed ??= error;
        throw error;
      })),
  );
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
  return { processed, failed };
}

/**
 * When no account is claimable: how long to wait before asking again, or undefined when this
 * worker is done (the run has nothing left, or only accounts this invocation holds).
 */
async function nothingClaimable(deps: RunnerDeps, run: PoolRun): Promise<number | undefined> {
  const { sql } = deps;
  const [progress] = await sql`select * from public.run_progress(${run.runId})`;
  if (progress.pending + progress.in_progress === 0) return undefined;
  // Nothing left to claim and every account in flight is this invocation's own: its other
  // workers finish them, so this one stops instead of polling (the run ends ~1 s sooner).
  if (progress.pending === 0) {
    const [{ others }] = await sql`select count(*)::int as others
      from public.sync_run_accounts where run_id = ${run.runId} and status = 'in_progress'
        and claimed_by is distinct from ${run.worker}`;
    if (others === 0) return undefined;
  }
  // Nothing claimable yet: a retry's cool-down, or accounts another worker holds.
  const dueIn = progress.next_attempt_at
    ? new Date(progress.next_attempt_at).getTime() - Date.now()
    : 1000;
  return Math.max(100, Math.min(dueIn, 2000, run.budget.wallLeftMs()));
}
