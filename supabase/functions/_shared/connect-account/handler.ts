/**
 * connect-account: how an operator connects a Threads account to a workspace, or disconnects
 * one. Built from its parts (like scheduled-sync/handler.ts) so tests can call it with a Request;
 * the logic is connect.ts and deactivate.ts, the body request.ts.
 *
 * POST only (405 otherwise, CORS preflight answered), `Authorization: Bearer
 * <CONNECT_ACCOUNT_SECRET>` compared in constant time (401; a secret of its own, not the cron
 * secret: pg_cron never connects accounts), and a strictly validated JSON body (400 naming the
 * field):
 *
 *   {"workspaceId": "<uuid>", "accessToken": "TH...",            connect (or reconnect)
 *    "expiresAt"?: "<ISO date-time>" | "expiresInSeconds"?: n}
 *   {"accountId": "<uuid>", "deactivate": true}                 disconnect
 *
 * Connecting checks the token against the Threads API before anything is stored (connect.ts).
 *
 *   201  a new account; 200  an existing one (reconnected)          {account, token, ...}
 *   404  unknown_workspace / unknown_account
 *   422  token_rejected (the API refused it: what it said, without the token)
 *        token_expired (expiresAt is in the past)
 *   502  threads_api_unavailable (the API failed: try again; nothing stored)
 *
 * Without an expiry, the token is taken as a fresh long-lived one (60 days; the answer says
 * `expiresAtAssumed: true`). The token never appears in an answer or a log line.
 */
import { refuseUnlessCronPost } from "../platform/auth.ts";
import type { Config } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import { errorResponse, jsonResponse } from "../platform/http.ts";
import { parseJsonBody } from "../platform/json-body.ts";
import type { Logger } from "../platform/log.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import { scrubSecrets } from "../platform/scrub-secrets.ts";
import { connectAccount, type ConnectOutcome } from "./connect.ts";
import { deactivateAccount, type DeactivateOutcome } from "./deactivate.ts";
import { connectAccountRequestSchema } from "./request.ts";

export interface ConnectAccountDeps {
  config: Config;
  /** CONNECT_ACCOUNT_SECRET (config.ts). */
  secret: string;
  sql: Sql;
  limiter: RateLimiter;
  log: Logger;
  fetch?: typeof fetch;
}

export function createConnectAccountHandler(deps: ConnectAccountDeps) {
  return async (request: Request): Promise<Response> => {
    // The same POST-with-bearer gate as the cron functions, with this function's own secret.
    const refused = await refuseUnlessCronPost(request, deps.secret);
    if (refused) return refused;
    const parsed = await parseJsonBody(request, connectAccountRequestSchema);
    if (!parsed.ok) return errorResponse(400, "invalid_body", parsed.detail);
    const body = parsed.data;
    const invocationId = crypto.randomUUID();
    const log = deps.log.child({ invocation_id: invocationId });
    try {
      return body.deactivate
        ? deactivateReply(await deactivateAccount(deps.sql, log, body.accountId!), body.accountId!)
        : connectReply(await connectAccount(deps, log, body), body.workspaceId!);
    } catch (error) {
      log.error("request_failed", {
        error: scrubSecrets(String((error as Error)?.stack ?? error), body.accessToken),
      });
      return errorResponse(
        500,
        "internal_error",
        `The account could not be connected; see the function log (invocation ${invocationId})`,
      );
    }
  };
}

function connectReply(outcome: ConnectOutcome, workspaceId: string): Response {
  switch (outcome.kind) {
    case "connected":
      return jsonResponse(outcome.connection.created ? 201 : 200, outcome.connection);
    case "unknown_workspace":
      return errorResponse(
        404,
        "unknown_workspace",
        `workspaceId ${workspaceId} is not a workspace`,
      );
    case "token_expired":
      return errorResponse(422, "token_expired", outcome.detail);
    case "expiry_too_far":
      return errorResponse(
        400,
        "invalid_body",
        "expiresAt must be within 61 days (a long-lived Threads token lasts 60 days)",
      );
    case "token_rejected":
    case "threads_api_unavailable": {
      const rejected = outcome.kind === "token_rejected";
      return jsonResponse(rejected ? 422 : 502, {
        error: outcome.kind,
        detail: rejected
          ? `The Threads API rejected the token; nothing was stored. ${outcome.detail}`
          : `The Threads API could not check the token; nothing was stored, try again. ${outcome.detail}`,
        kind: outcome.error.kind,
        graphCode: outcome.error.code ?? null,
        graphSubcode: outcome.error.subcode ?? null,
      });
    }
  }
}

function deactivateReply(outcome: DeactivateOutcome, accountId: string): Response {
  if (outcome.kind === "unknown_account") {
    return errorResponse(404, "unknown_account", `accountId ${accountId} is not an account`);
  }
  return jsonResponse(200, { account: outcome.account, deactivated: outcome.changed });
}
