/**
 * The token-refresh HTTP contract, built from its parts (like scheduled-sync/handler.ts) so tests can
 * call it with a Request: POST only (405 otherwise, CORS preflight answered), the cron secret
 * compared in constant time (401), a strictly validated body (400 naming the fields), then:
 *
 *   lock held by a live run   200 {"skipped": true, ...}, recorded as a skipped run
 *   "wait": true              200 with the run's summary (202 if it had to hand off)
 *   otherwise                 202 {"runId": ..., "status": "running"} at once; the run goes on
 *                             under EdgeRuntime.waitUntil (what pg_cron gets)
 *
 * Body (all optional; {} is what pg_cron sends):
 *   {"accountIds": ["<uuid>", ...]}   only these accounts
 *   {"workspaceId": "<uuid>"}         only this workspace's accounts
 *   {"windowDays": n}                 refresh tokens expiring within n days (1-59) instead of
 *                                     TOKEN_REFRESH_WINDOW_DAYS; 59 refreshes every token at
 *                                     least a day old (e.g. to finish a key rotation)
 *   {"wait": true}                    answer with the summary
 *   {"runId": "<uuid>"}               continue that run (sent by the function itself)
 */
import { z } from "zod";
import { refuseUnlessCronPost } from "../platform/auth.ts";
import type { Config } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import { edgeRuntime } from "../platform/edge-runtime.ts";
import { toSyncLogError } from "../jobs/sync-log-error.ts";
import { noWorkReply, type NoWorkWording } from "../jobs/no-work-reply.ts";
import { errorResponse, jsonResponse } from "../platform/http.ts";
import { parseJsonBody } from "../platform/json-body.ts";
import type { Logger } from "../platform/log.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import {
  startTokenRefreshRun,
  type TokenRefreshDeps,
  type TokenRefreshSummary,
  workTokenRefreshRun,
} from "./run.ts";
import type { TokenRefreshConfig } from "./config.ts";

export const tokenRefreshRequestSchema = z.strictObject({
  accountIds: z.array(z.uuid({ error: "must be a UUID" })).min(1, "must list at least one account")
    .max(1000, "must list at most 1000 accounts").optional(),
  workspaceId: z.uuid({ error: "must be a UUID" }).optional(),
  windowDays: z.number({ error: "must be a number" }).int("must be an integer")
    .min(1, "must be at least 1").max(59, "must be at most 59 (a token lives 60 days)").optional(),
  wait: z.boolean({ error: "must be true or false" }).default(false),
  runId: z.uuid({ error: "must be a UUID" }).optional(),
}, { error: "must be a JSON object" }).superRefine((body, ctx) => {
  if (body.accountIds && body.workspaceId) {
    ctx.addIssue({
      code: "custom",
      path: ["workspaceId"],
      message: "cannot be combined with accountIds",
    });
  }
  if (body.runId && (body.accountIds || body.workspaceId || body.windowDays)) {
    ctx.addIssue({
      code: "custom",
      path: ["runId"],
      message: "continues an existing run and takes no other option but wait",
    });
  }
});

export interface TokenRefreshHandlerDeps {
  config: Config;
  refreshConfig: TokenRefreshConfig;
  sql: Sql;
  limiter: RateLimiter;
  log: Logger;
  fetch?: typeof fetch;
}

const TOKEN_REFRESH_WORDING: NoWorkWording = {
  skippedEvent: "token_refresh_skipped",
  runName: "token refresh run",
  lockName: "token_refresh",
  wrongJobType: (runId) =>
    errorResponse(404, "unknown_run", `runId ${runId} is not a token refresh run`),
};

export function createTokenRefreshHandler(deps: TokenRefreshHandlerDeps) {
  return async (request: Request): Promise<Response> => {
    const invocationStartedAt = Date.now();
    const refused = await refuseUnlessCronPost(request, deps.config.CRON_SECRET);
    if (refused) return refused;
    const parsed = await parseJsonBody(request, tokenRefreshRequestSchema);
    if (!parsed.ok) return errorResponse(400, "invalid_body", parsed.detail);
    const body = parsed.data;
    const invocationId = crypto.randomUUID();
    const runner: TokenRefreshDeps = {
      ...deps,
      invocationId,
      invocationStartedAt,
      log: deps.log.child({ invocation_id: invocationId }),
    };
    let runId: string | undefined;
    try {
      const start = await startTokenRefreshRun(runner, body, body.runId);
      runId = start.runId;
      if (start.kind !== "work") return noWorkReply(start, TOKEN_REFRESH_WORDING, runner.log);
      runner.log.info("token_refresh_started", { run_id: start.runId, how: start.how });
      const work = workTokenRefreshRun(runner, start.runId)
        .catch((error) => closeCrashedRun(runner, start.runId, error));
      const background = edgeRuntime();
      if (body.wait || !background) {
        const summary = await work;
        if (!summary) throw new Error("the run crashed; see the log");
        return jsonResponse(summary.status === "running" ? 202 : 200, summary);
      }
      background.waitUntil(work);
      return jsonResponse(202, { runId: start.runId, status: "running", how: start.how });
    } catch (error) {
      runner.log.error("request_failed", {
        run_id: runId,
        error: String((error as Error)?.stack ?? error),
      });
      return errorResponse(
        500,
        "internal_error",
        `The token refresh failed; see the function log (invocation ${invocationId})`,
      );
    }
  };
}

/** A run whose work threw: recorded as failed so it does not stay 'running'. */
async function closeCrashedRun(
  deps: TokenRefreshDeps,
  runId: string,
  error: unknown,
): Promise<TokenRefreshSummary | undefined> {
  const logged = toSyncLogError(error);
  deps.log.error("token_refresh_crashed", { run_id: runId, error: logged.message });
  try {
    await deps.sql`select public.finish_token_refresh_run(${runId}, ${logged.code},
      ${logged.message})`;
  } catch (closeError) {
    // The database is the likely culprit: the lock expires and the next trigger resumes the run.
    deps.log.error("token_refresh_close_failed", { run_id: runId, error: String(closeError) });
  }
  return undefined;
}
