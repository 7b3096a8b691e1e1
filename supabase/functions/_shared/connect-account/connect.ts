/**
 * Connecting (or reconnecting) an account: check the token against the Threads API first
 * (GET /me), so a token that does not work is refused before anything is stored, then, in one
 * transaction (public.connect_account), create or update the account of that Threads user in
 * the workspace (username from the profile; a deactivated account is reactivated, its history
 * intact) and store the token, encrypted, as the primary one, revoking the previous primary.
 * The token never appears in an outcome or a log line.
 */
import { encrypt } from "../crypto.ts";
import type { Config } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import { sqlState } from "../platform/postgres-errors.ts";
import { scrubSecrets } from "../platform/scrub-secrets.ts";
import { ThreadsApiError } from "../threads/errors.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import { ThreadsApiClient } from "../threads-api.ts";
import { type AccountView, loadAccountView } from "./account-view.ts";
import { type ConnectAccountRequest, expiryOf } from "./request.ts";

/** Below this, the token is likely a short-lived one (1 hour), which cannot be refreshed. */
const SHORT_LIVED_MS = 2 * 86_400_000;
/** API failures that say the token is no good (not that the API is in trouble). */
const REJECTIONS = new Set(["auth_expired", "permission", "permanent", "not_found"]);

export interface ConnectDeps {
  sql: Sql;
  config: Config;
  limiter: RateLimiter;
  fetch?: typeof fetch;
}

export interface Connection {
  account: AccountView;
  created: boolean;
  reactivated: boolean;
  token: {
    id: string;
    expiresAt: string;
    expiresAtAssumed: boolean;
    replacedTokenId: string | null;
  };
  warnings: string[];
}

export type ConnectOutcome =
  | { kind: "connected"; connection: Connection }
  | { kind: "unknown_workspace" }
  /** The expiry given is past, or the token expired before it could be stored. */
  | { kind: "token_expired"; detail: string }
  | { kind: "expiry_too_far" }
  /** The API refused the token (rejected) or could not check it; nothing stored. */
  | { kind: "token_rejected" | "threads_api_unavailable"; error: ThreadsApiError; detail: string };

type Profile = { id: string; username: string };

export async function connectAccount(
  deps: ConnectDeps,
  log: Logger,
  body: ConnectAccountRequest,
): Promise<ConnectOutcome> {
  const token = body.accessToken!;
  const workspaceId = body.workspaceId!;
  const [workspace] = await deps.sql`select id from public.workspaces where id = ${workspaceId}`;
  if (!workspace) return { kind: "unknown_workspace" };
  const expiry = expiryOf(body, Date.now());
  if (expiry.error === "too_far") return { kind: "expiry_too_far" };
  if (expiry.error !== undefined) {
    return {
      kind: "token_expired",
      detail:
        "expiresAt is in the past: the token has expired; get a new one (log in with Threads again)",
    };
  }

  // The token must work before anything is stored: the profile says whose it is.
  const checked = await checkToken(deps, log, workspaceId, token);
  if ("kind" in checked) return checked;
  let row;
  try {
    row = await storeConnection(deps, workspaceId, checked, token, expiry.at);
  } catch (error) {
    // Raced with the workspace's erasure, or the token expired meanwhile.
    if (sqlState(error) === "TS301") return { kind: "unknown_workspace" };
    if (sqlState(error) === "TS303") {
      return { kind: "token_expired", detail: "the token expired before it could be stored" };
    }
    throw error;
  }
  const account = (await loadAccountView(deps.sql, row.account_id))!;
  log.info("account_connected", {
    account_id: account.id,
    workspace_id: workspaceId,
    threads_user_id: account.threadsUserId,
    username: account.username,
    created: row.created,
    reactivated: row.reactivated,
    // Named so the logger's secret filter (keys containing "token") keeps them.
    credential_id: row.token_id,
    replaced_credential_id: row.replaced_token_id,
    expires_at: expiry.at.toISOString(),
  });
  return {
    kind: "connected",
    connection: {
      account,
      created: row.created,
      reactivated: row.reactivated,
      token: {
        id: row.token_id,
        expiresAt: expiry.at.toISOString(),
        expiresAtAssumed: expiry.assumed,
        replacedTokenId: row.replaced_token_id,
      },
      warnings: warningsFor(expiry.at),
    },
  };
}

/** The token's profile (GET /me), or why the token cannot be connected. */
async function checkToken(
  deps: ConnectDeps,
  log: Logger,
  workspaceId: string,
  token: string,
): Promise<Profile | Extract<ConnectOutcome, { error: ThreadsApiError }>> {
  const client = new ThreadsApiClient({
    baseUrl: deps.config.THREADS_API_BASE_URL,
    accessToken: token,
    limiter: deps.limiter,
    fetch: deps.fetch,
    logger: log,
    maxRetries: 2,
    timeoutMs: 10_000,
  });
  try {
    return await client.getProfile();
  } catch (error) {
    if (!(error instanceof ThreadsApiError)) throw error;
    const said = error.graphMessage ? ` (Threads said: ${error.graphMessage})` : "";
    const detail = scrubSecrets(`${error.message}${said}`, token);
    const kind = REJECTIONS.has(error.kind) ? "token_rejected" : "threads_api_unavailable";
    log.warn(kind, {
      workspace_id: workspaceId,
      kind: error.kind,
      code: error.code,
      subcode: error.subcode,
      detail,
    });
    return { kind, error, detail };
  }
}

function warningsFor(expiresAt: Date): string[] {
  if (expiresAt.getTime() - Date.now() >= SHORT_LIVED_MS) return [];
  return [
    "the token expires within 2 days: if it is a short-lived token (1 hour), exchange it for " +
    "a long-lived one (GET /access_token?grant_type=th_exchange_token) and connect that; " +
    "a short-lived token cannot be refreshed",
  ];
}

interface ConnectRow {
  account_id: string;
  created: boolean;
  reactivated: boolean;
  token_id: string;
  replaced_token_id: string | null;
}

/**
 * Encrypts the token for its account (v2 binds the ciphertext to the account id, so the id is
 * needed first: the existing account's, or a new one) and stores it with connect_account. A
 * concurrent first connect of the same user can create the account under another id
 * meanwhile (TS305): then once more with that id.
 */
async function storeConnection(
  deps: ConnectDeps,
  workspaceId: string,
  profile: Profile,
  token: string,
  expiresAt: Date,
): Promise<ConnectRow> {
  for (let attempt = 1;; attempt++) {
    const [existing] = await deps.sql`select id from public.workspace_threads_accounts
      where workspace_id = ${workspaceId} and threads_user_id = ${profile.id}`;
    const accountId: string = existing?.id ?? crypto.randomUUID();
    const encrypted = await encrypt(token, deps.config.TOKEN_ENCRYPTION_KEY, accountId);
    try {
      const [row] = await deps.sql<ConnectRow[]>`select account_id, created, reactivated,
          token_id, replaced_token_id
        from public.connect_account(${workspaceId}, ${profile.id}, ${profile.username},
          ${encrypted}, ${expiresAt}, p_account_id => ${accountId})`;
      return row;
    } catch (error) {
      if (sqlState(error) !== "TS305" || attempt >= 2) throw error;
    }
  }
}
