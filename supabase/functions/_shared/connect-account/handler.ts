/**
 * connect-account: how an operator connects a Threads account to a workspace, or disconnects
 * one. Built from its parts (like scheduled-sync/handler.ts) so tests can call it with a Request.
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
 * Connecting checks the token against the Threads API first (GET /me), so a token that does
 * not work is refused before anything is stored, then, in one transaction
 * (public.connect_account), creates or updates the account of that Threads user in the
 * workspace (username from the profile; a deactivated account is reactivated, its history
 * intact) and stores the token, encrypted, as the primary one, revoking the previous primary.
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
import { z } from "zod";
import { refuseUnlessCronPost } from "../platform/auth.ts";
import type { Config } from "../platform/config.ts";
import { encrypt } from "../crypto.ts";
import type { Sql } from "../platform/db.ts";
import { ThreadsApiError } from "../threads/errors.ts";
import { errorResponse, jsonResponse } from "../platform/http.ts";
import { parseJsonBody } from "../platform/json-body.ts";
import type { Logger } from "../platform/log.ts";
import { sqlState } from "../platform/postgres-errors.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import { scrubSecrets } from "../platform/scrub-secrets.ts";
import { ThreadsApiClient } from "../threads-api.ts";

const DAY_MS = 86_400_000;
/** A long-lived Threads token's lifetime (threads-api.md section 6). */
export const LONG_LIVED_TOKEN_MS = 60 * DAY_MS;
/** Below this, the token is likely a short-lived one (1 hour), which cannot be refreshed. */
const SHORT_LIVED_MS = 2 * DAY_MS;
/** An expiry further out than this is a mistake (milliseconds given as seconds, say). */
const MAX_EXPIRY_MS = 61 * DAY_MS;

export const connectAccountRequestSchema = z.strictObject({
  workspaceId: z.uuid({ error: "must be a UUID" }).optional(),
  accessToken: z.string({ error: "must be a string" }).min(16, "must be a Threads access token")
    .max(4096, "must be at most 4096 characters").regex(/^\S+$/, "must not contain spaces")
    .optional(),
  expiresAt: z.iso.datetime({
    offset: true,
    error: "must be an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z",
  }).optional(),
  expiresInSeconds: z.number({ error: "must be a number" }).int("must be an integer")
    .min(1, "must be at least 1")
    .max(LONG_LIVED_TOKEN_MS / 1000, "must be at most 5184000 (60 days, a long-lived token)")
    .optional(),
  accountId: z.uuid({ error: "must be a UUID" }).optional(),
  deactivate: z.literal(true, { error: "must be true" }).optional(),
}, { error: "must be a JSON object" }).superRefine((body, ctx) => {
  const issue = (path: string, message: string) =>
    ctx.addIssue({ code: "custom", path: [path], message });
  if (body.deactivate) {
    if (!body.accountId) issue("accountId", "is required with deactivate");
    for (const key of ["workspaceId", "accessToken", "expiresAt", "expiresInSeconds"] as const) {
      if (body[key] !== undefined) issue(key, "cannot be combined with deactivate");
    }
    return;
  }
  if (body.accountId) issue("accountId", "is only used with deactivate: true");
  if (!body.workspaceId) issue("workspaceId", "is required");
  if (!body.accessToken) issue("accessToken", "is required");
  if (body.expiresAt !== undefined && body.expiresInSeconds !== undefined) {
    issue("expiresInSeconds", "cannot be combined with expiresAt");
  }
});

export type ConnectAccountRequest = z.infer<typeof connectAccountRequestSchema>;

export interface ConnectAccountDeps {
  config: Config;
  /** CONNECT_ACCOUNT_SECRET (config.ts). */
  secret: string;
  sql: Sql;
  limiter: RateLimiter;
  log: Logger;
  fetch?: typeof fetch;
}

/** API failures that say the token is no good (not that the API is in trouble). */
const REJECTIONS = new Set(["auth_expired", "permission", "permanent", "not_found"]);

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
        ? await deactivate(deps, log, body.accountId!)
        : await connectAccount(deps, log, body);
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

interface AccountRow {
  id: string;
  workspace_id: string;
  threads_user_id: string;
  username: string;
  is_active: boolean;
  deactivated_at: Date | null;
}

const describeAccount = (a: AccountRow) => ({
  id: a.id,
  workspaceId: a.workspace_id,
  threadsUserId: a.threads_user_id,
  username: a.username,
  isActive: a.is_active,
  deactivatedAt: a.deactivated_at?.toISOString() ?? null,
});

async function loadAccount(sql: Sql, id: string): Promise<AccountRow | undefined> {
  const [row] = await sql<AccountRow[]>`
    select id, workspace_id, threads_user_id, username, is_active, deactivated_at
    from public.workspace_threads_accounts where id = ${id}`;
  return row;
}

/** The token's expiry from the request, or the reason it cannot be accepted. */
function expiryOf(body: ConnectAccountRequest, now: number) {
  if (body.expiresAt !== undefined) {
    const at = Date.parse(body.expiresAt);
    if (at <= now) return { error: "expired" as const };
    if (at > now + MAX_EXPIRY_MS) return { error: "too_far" as const };
    return { at: new Date(at), assumed: false };
  }
  if (body.expiresInSeconds !== undefined) {
    return { at: new Date(now + body.expiresInSeconds * 1000), assumed: false };
  }
  return { at: new Date(now + LONG_LIVED_TOKEN_MS), assumed: true };
}

async function connectAccount(deps: ConnectAccountDeps, log: Logger, body: ConnectAccountRequest) {
  const token = body.accessToken!;
  const workspaceId = body.workspaceId!;
  const [workspace] = await deps.sql`select id from public.workspaces where id = ${workspaceId}`;
  if (!workspace) {
    return errorResponse(404, "unknown_workspace", `workspaceId ${workspaceId} is not a workspace`);
  }
  const expiry = expiryOf(body, Date.now());
  if (expiry.error === "expired") {
    return errorResponse(
      422,
      "token_expired",
      "expiresAt is in the past: the token has expired; get a new one (log in with Threads again)",
    );
  }
  if (expiry.error === "too_far") {
    return errorResponse(
      400,
      "invalid_body",
      "expiresAt must be within 61 days (a long-lived Threads token lasts 60 days)",
    );
  }

  // The token must work before anything is stored: the profile says whose it is.
  const client = new ThreadsApiClient({
    baseUrl: deps.config.THREADS_API_BASE_URL,
    accessToken: token,
    limiter: deps.limiter,
    fetch: deps.fetch,
    logger: log,
    maxRetries: 2,
    timeoutMs: 10_000,
  });
  let profile;
  try {
    profile = await client.getProfile();
  } catch (error) {
    if (!(error instanceof ThreadsApiError)) throw error;
    const said = error.graphMessage ? ` (Threads said: ${error.graphMessage})` : "";
    const detail = scrubSecrets(`${error.message}${said}`, token);
    const rejected = REJECTIONS.has(error.kind);
    log.warn(rejected ? "token_rejected" : "threads_api_unavailable", {
      workspace_id: workspaceId,
      kind: error.kind,
      code: error.code,
      subcode: error.subcode,
      detail,
    });
    return jsonResponse(rejected ? 422 : 502, {
      error: rejected ? "token_rejected" : "threads_api_unavailable",
      detail: rejected
        ? `The Threads API rejected the token; nothing was stored. ${detail}`
        : `The Threads API could not check the token; nothing was stored, try again. ${detail}`,
      kind: error.kind,
      graphCode: error.code ?? null,
      graphSubcode: error.subcode ?? null,
    });
  }

  let row;
  try {
    row = await storeConnection(deps, workspaceId, profile, token, expiry.at!);
  } catch (error) {
    // Raced with the workspace's erasure, or the token expired meanwhile.
    if (sqlState(error) === "TS301") {
      return errorResponse(
        404,
        "unknown_workspace",
        `workspaceId ${workspaceId} is not a workspace`,
      );
    }
    if (sqlState(error) === "TS303") {
      return errorResponse(422, "token_expired", "the token expired before it could be stored");
    }
    throw error;
  }
  const account = (await loadAccount(deps.sql, row.account_id))!;
  log.info("account_connected", {
    account_id: account.id,
    workspace_id: workspaceId,
    threads_user_id: account.threads_user_id,
    username: account.username,
    created: row.created,
    reactivated: row.reactivated,
    // Named so the logger's secret filter (keys containing "token") keeps them.
    credential_id: row.token_id,
    replaced_credential_id: row.replaced_token_id,
    expires_at: expiry.at!.toISOString(),
  });
  const warnings: string[] = [];
  if (expiry.at!.getTime() - Date.now() < SHORT_LIVED_MS) {
    warnings.push(
      "the token expires within 2 days: if it is a short-lived token (1 hour), exchange it for " +
        "a long-lived one (GET /access_token?grant_type=th_exchange_token) and connect that; " +
        "a short-lived token cannot be refreshed",
    );
  }
  return jsonResponse(row.created ? 201 : 200, {
    account: describeAccount(account),
    created: row.created,
    reactivated: row.reactivated,
    token: {
      id: row.token_id,
      expiresAt: expiry.at!.toISOString(),
      expiresAtAssumed: expiry.assumed,
      replacedTokenId: row.replaced_token_id,
    },
    warnings,
  });
}

/**
 * Encrypts the token for its account (v2 binds the ciphertext to the account id, so the id is
 * needed first: the existing account's, or a new one) and stores it with connect_account. A
 * concurrent first connect of the same user can create the account under another id
 * meanwhile (TS305): then once more with that id.
 */
async function storeConnection(
  deps: ConnectAccountDeps,
  workspaceId: string,
  profile: { id: string; username: string },
  token: string,
  expiresAt: Date,
) {
  for (let attempt = 1;; attempt++) {
    const [existing] = await deps.sql`select id from public.workspace_threads_accounts
      where workspace_id = ${workspaceId} and threads_user_id = ${profile.id}`;
    const accountId: string = existing?.id ?? crypto.randomUUID();
    const encrypted = await encrypt(token, deps.config.TOKEN_ENCRYPTION_KEY, accountId);
    try {
      const [row] = await deps.sql`select account_id, created, reactivated, token_id,
          replaced_token_id
        from public.connect_account(${workspaceId}, ${profile.id}, ${profile.username},
          ${encrypted}, ${expiresAt}, p_account_id => ${accountId})`;
      return row;
    } catch (error) {
      if (sqlState(error) !== "TS305" || attempt >= 2) throw error;
    }
  }
}

async function deactivate(deps: ConnectAccountDeps, log: Logger, accountId: string) {
  let changed: boolean;
  try {
    [{ changed }] = await deps.sql`select public.deactivate_account(${accountId}) as changed`;
  } catch (error) {
    if (sqlState(error) === "TS302") {
      return errorResponse(404, "unknown_account", `accountId ${accountId} is not an account`);
    }
    throw error;
  }
  const account = (await loadAccount(deps.sql, accountId))!;
  log.info("account_deactivated", { account_id: accountId, changed });
  return jsonResponse(200, { account: describeAccount(account), deactivated: changed });
}
