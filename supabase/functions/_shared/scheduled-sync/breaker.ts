/**
 * The run's circuit breaker: when account after account fails for API reasons (an outage, an
 * app-wide block) the run stops calling the API; the rest of the run is recorded as skipped
 * with the reason, and the next scheduled run probes with one account before going wide.
 */
import type { ErrorCode } from "../jobs/error-codes.ts";
import type { Sql } from "../platform/db.ts";
import type { AccountResult } from "./account.ts";

/** Accounts failing in a row for API reasons before the breaker opens. */
export const BREAKER_THRESHOLD = 5;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export class Breaker {
  consecutive = 0;
  open = false;
  /** While probing after an outage, one account goes first; one failure opens the breaker. */
  probing: boolean;
  /** Whether this invocation started by probing (recorded in the run's figures). */
  readonly probedFirst: boolean;
  last?: AccountResult;

  constructor(probing: boolean) {
    this.probing = probing;
    this.probedFirst = probing;
  }

  /** Counts an account's result: a success closes the streak, API trouble extends it. */
  record(r: AccountResult): void {
    if (r.outcome === "completed" || !r.apiTrouble) {
      this.consecutive = 0;
      this.probing = false;
    } else {
      this.consecutive++;
      this.last = r;
      if (this.probing || this.consecutive >= BREAKER_THRESHOLD) this.open = true;
    }
  }

  /** The run's error once the breaker opened. */
  error(): { code: ErrorCode; message: string } {
    return {
      code: "api_unavailable",
      message:
        `Stopped calling the Threads API after ${this.consecutive} account(s) in a row failed for API reasons${
          this.probing ? " (the probe after the previous run's outage failed)" : ""
        }; last: ${this.last?.errorCode}: ${this.last?.errorMessage}`,
    };
  }
}

/** Whether the last scheduled run stopped because the API was unavailable: then probe first. */
export async function previousRunTrippedBreaker(sql: Sql, runId: string): Promise<boolean> {
  const [row] = await sql`
    select error_code from public.system_job_logs
    where job_type = 'scheduled_sync' and status <> 'skipped' and id <> ${runId}
      and started_at < (select started_at from public.system_job_logs where id = ${runId})
    order by started_at desc limit 1`;
  return row?.error_code === "api_unavailable";
}

/** Finishes a run the breaker stopped, once accounts in other workers' hands are done. */
export async function finishWhenSettled(
  sql: Sql,
  runId: string,
  error: { code: ErrorCode; message: string },
): Promise<string> {
  for (let i = 0; i < 60; i++) {
    const [p] = await sql`select in_progress from public.run_progress(${runId})`;
    if (p.in_progress === 0) break;
    await sleep(500);
  }
  try {
    const [{ status }] = await sql`select public.finish_sync_run(${runId}, ${error.code},
      ${error.message}) as status`;
    return status;
  } catch {
    // Still held elsewhere: its worker, or the next trigger, will finish the run.
    return "running";
  }
}
