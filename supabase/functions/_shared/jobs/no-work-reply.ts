/**
 * The answer to a run start that leaves this invocation nothing to do, the same for every job
 * type: another run holds the lock (200, recorded as a skipped run), the run finished meanwhile,
 * the run no longer holds its lock, or the runId names no run of this function (404, or 409 for
 * a run of another job type where the function says so).
 */
import { errorResponse, jsonResponse } from "../platform/http.ts";
import type { Logger } from "../platform/log.ts";
import type { JobRunStart } from "./job-run.ts";

export interface NoWorkWording {
  /** The log event of a skipped start: `run_skipped`, `token_refresh_skipped`. */
  skippedEvent: string;
  /** Who holds the lock: "scheduled run", "token refresh run". */
  runName: string;
  /** The lock's name: "scheduled", "token_refresh". */
  lockName: string;
  /** The answer to a runId of another job type. */
  wrongJobType(runId: string, jobType: string): Response;
}

/** The reply for a start other than `work`. */
export function noWorkReply(
  start: Exclude<JobRunStart, { kind: "work" }>,
  wording: NoWorkWording,
  log: Logger,
): Response {
  switch (start.kind) {
    case "skipped":
      log.info(wording.skippedEvent, {
        run_id: start.runId,
        running_run_id: start.runningRunId,
      });
      return jsonResponse(200, {
        skipped: true,
        runId: start.runId,
        reason: `another ${wording.runName} holds the lock`,
        runningRunId: start.runningRunId,
      });
    case "finished":
      return jsonResponse(200, { runId: start.runId, alreadyFinished: true });
    case "lock_lost":
      return jsonResponse(200, {
        skipped: true,
        runId: start.runId,
        reason: `the run no longer holds the ${wording.lockName} lock`,
      });
    case "wrong_job_type":
      return wording.wrongJobType(start.runId, start.jobType);
    case "unknown_run":
      return errorResponse(404, "unknown_run", `runId ${start.runId} is not a ${wording.runName}`);
  }
}
