/**
 * The scheduled-sync HTTP contract (README, "Manual sync"), built from its parts so tests can call
 * it with a Request: POST only (405 otherwise, CORS preflight answered), the cron secret
 * compared in constant time (401), a strictly validated body (400 naming the fields), then:
 *
 *   lock held by a live run        200 {"skipped": true, ...}, recorded as a skipped run
 *   dry run                        200 with what would change; nothing written
 *   "wait": true                   200 with the run's summary (202 if it had to hand off)
 *   otherwise                      202 {"runId": ..., "status": "running"} at once; the run goes
 *                                  on under EdgeRuntime.waitUntil
 */
import { refuseUnlessCronPost } from "../platform/auth.ts";
import { errorResponse, jsonResponse } from "../platform/http.ts";
import { parseSyncRequest } from "./request.ts";
import { type RunnerDeps, startRun, workRun } from "./runner.ts";
import { dryRunSync } from "./dry-run.ts";
import { edgeRuntime } from "../platform/edge-runtime.ts";
import { processCpuMs } from "../jobs/invocation-budget.ts";
import { noWorkReply, type NoWorkWording } from "../jobs/no-work-reply.ts";

export type HandlerDeps = Omit<
  RunnerDeps,
  "invocationId" | "invocationStartedAt" | "invocationCpuAtStart"
>;

const SYNC_WORDING: NoWorkWording = {
  skippedEvent: "run_skipped",
  runName: "scheduled run",
  lockName: "scheduled",
  wrongJobType: (runId, jobType) =>
    errorResponse(
      409,
      "wrong_job_type",
      `runId ${runId} is a ${jobType} run: scheduled-sync continues only scheduled_sync and manual_sync runs`,
    ),
};

export function createSyncHandler(deps: HandlerDeps) {
  return async (request: Request): Promise<Response> => {
    const invocationStartedAt = Date.now();
    const invocationCpuAtStart = processCpuMs();
    const refused = await refuseUnlessCronPost(request, deps.config.CRON_SECRET);
    if (refused) return refused;
    const parsed = await parseSyncRequest(request);
    if (!parsed.ok) return errorResponse(400, "invalid_body", parsed.detail);
    const body = parsed.request;
    const invocationId = crypto.randomUUID();
    const runner: RunnerDeps = {
      ...deps,
      invocationId,
      invocationStartedAt,
      invocationCpuAtStart,
      log: deps.log.child({ invocation_id: invocationId }),
    };
    try {
      if (body.dryRun) return jsonResponse(200, await dryRunSync(runner, body));
      const start = await startRun(runner, body);
      if (start.kind !== "work") return noWorkReply(start, SYNC_WORDING, runner.log);
      runner.log.info("run_started", {
        run_id: start.runId,
        job_type: start.jobType,
        how: start.how,
      });
      const work = workRun(runner, start.runId, start.jobType);
      const background = edgeRuntime();
      if (body.wait || !background) {
        const summary = await work;
        return jsonResponse(summary.status === "running" ? 202 : 200, summary);
      }
      background.waitUntil(work.catch((error) => {
        runner.log.error("run_crashed", {
          run_id: start.runId,
          error: String(error?.stack ?? error),
        });
      }));
      return jsonResponse(202, { runId: start.runId, status: "running", how: start.how });
    } catch (error) {
      runner.log.error("request_failed", { error: String((error as Error)?.stack ?? error) });
      return errorResponse(
        500,
        "internal_error",
        `The sync could not start; see the function log (invocation ${invocationId})`,
      );
    }
  };
}
