/**
 * The run lifecycle every job type shares (scheduled and manual syncs, token refresh): start a
 * run (or resume a dead one, or record a skipped one), join it from a fresh invocation, hand it
 * off, and keep its lease alive with a heartbeat. The rules live in SQL (begin_job_run,
 * continue_job_run, hand_off_job_run: one transaction each); this module only calls them and
 * names their outcomes.
 */
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";

export type JobType = "scheduled_sync" | "manual_sync" | "token_refresh";

export type JobRunStart =
  | { kind: "work"; runId: string; jobType: string; how: "started" | "resumed" | "continued" }
  | { kind: "skipped"; runId: string; runningRunId: string | null }
  | { kind: "finished"; runId: string }
  | { kind: "lock_lost"; runId: string }
  | { kind: "wrong_job_type"; runId: string; jobType: string }
  | { kind: "unknown_run"; runId: string };

/** Starts a run of `jobType`, resumes its dead run, or records a skipped one. */
export async function beginJobRun(
  sql: Sql,
  jobType: JobType,
  trigger: string,
  request: Record<string, unknown>,
  ttl: string,
): Promise<JobRunStart> {
  const [row] = await sql`select outcome, run_id, other_run_id from public.begin_job_run(
    ${jobType}, ${trigger}, ${sql.json(request as Record<string, never>)}, ${ttl}::interval)`;
  if (row.outcome === "skipped") {
    return { kind: "skipped", runId: row.run_id, runningRunId: row.other_run_id };
  }
  return { kind: "work", runId: row.run_id, jobType, how: row.outcome };
}

/** A fresh invocation joins run `runId`, which must be of one of `jobTypes`. */
export async function continueJobRun(
  sql: Sql,
  runId: string,
  jobTypes: JobType[],
  ttl: string,
): Promise<JobRunStart> {
  const [row] = await sql`select outcome, job_type from public.continue_job_run(
    ${runId}, ${jobTypes}::text[], ${ttl}::interval)`;
  switch (row.outcome) {
    case "continue":
      return { kind: "work", runId, jobType: row.job_type, how: "continued" };
    case "finished":
      return { kind: "finished", runId };
    case "lock_lost":
      return { kind: "lock_lost", runId };
    case "wrong_job_type":
      return { kind: "wrong_job_type", runId, jobType: row.job_type };
    default:
      return { kind: "unknown_run", runId };
  }
}

/** Queues the run's continuation (sent by pg_net when this commits). */
export async function handOffJobRun(sql: Sql, runId: string, ttl: string): Promise<void> {
  await sql`select public.hand_off_job_run(${runId}, ${ttl}::interval)`;
}

/**
 * Runs `beat` every `intervalMs` until stopped; once it answers false (the run's lock is
 * someone else's now) `lost()` stays true and the invocation must claim no more work. A beat
 * that fails (a database blip) is logged and tried again next time.
 */
export function startHeartbeat(
  beat: () => Promise<boolean>,
  intervalMs: number,
  log: Logger,
): { lost: () => boolean; stop: () => void } {
  let lost = false;
  const timer = setInterval(async () => {
    try {
      if (!await beat()) lost = true;
    } catch (error) {
      log.warn("heartbeat_failed", { error: String(error) });
    }
  }, intervalMs);
  return { lost: () => lost, stop: () => clearInterval(timer) };
}
