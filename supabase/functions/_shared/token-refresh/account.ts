/**
 * One account's token refresh, recorded as one sync_logs row (job_type 'token_refresh'; every
 * non-completed row has a code and a message):
 *
 *   refreshed                      completed  new token stored as primary, old one revoked
 *   younger than 24 hours          skipped    token_too_young: not an error, tried next run
 *   reconnected meanwhile          skipped    token_superseded: the connected token is kept
 *   API refused the token (190)    failed     auth_expired: the token is marked rejected, so
 *                                             the sync skips the account until a reconnect
 *   other API failure              failed     <kind>: token unchanged, tried again next run
 *   cannot decrypt                 failed     token_unreadable: check the encryption keys
 *   encrypted for another account  failed     token_mismatch: reconnect the account
 *   refreshed, but not stored      failed     token_store_failed: the store was retried with
 *                                             backoff first; the old token stays primary
 *
 * Rotation: decrypt tries the current key, then TOKEN_ENCRYPTION_KEYS_PREVIOUS; the new token
 * is always encrypted with the current key in the v2 format, bound to its account
 * (sync_logs.metadata.re_encrypted says when the old one was under a previous key,
 * previous_format which format it had).
 */
import type { ErrorCode } from "../jobs/error-codes.ts";
import { decrypt, encrypt, TokenCryptoError, tokenFormat } from "../crypto.ts";
import { type SyncLogEntry, writeSyncLog } from "../jobs/sync-log.ts";
import { type Config, tokenKeys } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import { scrubSecrets } from "../platform/scrub-secrets.ts";
import { toSyncLogError } from "../jobs/sync-log-error.ts";
import { ThreadsApiError } from "../threads/errors.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import { type createThreadsApiStats, ThreadsApiClient } from "../threads-api.ts";
import { storeRefreshedToken } from "./store-token.ts";

export const JOB = "token_refresh";

export interface AccountRefreshDeps {
  sql: Sql;
  config: Config;
  limiter: RateLimiter;
  fetch?: typeof fetch;
}

/** A row of tokens_due_for_refresh. */
export interface DueToken {
  account_id: string;
  username: string;
  token_id: string;
  access_token_encrypted: string;
  expires_at: Date;
  issued_at: Date;
  refreshable_at: Date;
}

export type AccountRefreshOutcome =
  | "refreshed"
  | "too_young"
  | "superseded"
  | "rejected"
  | "failed";

export interface AccountRefreshResult {
  accountId: string;
  username: string;
  outcome: AccountRefreshOutcome;
  errorCode?: ErrorCode;
  /** The new token's expiry, when refreshed. */
  expiresAt?: string;
}

type ApiStats = ReturnType<typeof createThreadsApiStats>;
type StepLog = Pick<SyncLogEntry, "status" | "items" | "errorCode" | "errorMessage" | "metadata">;

/** One account's refresh under way: whose it is, and how its outcome is recorded. */
interface Refresh {
  deps: AccountRefreshDeps;
  due: DueToken;
  log: Logger;
  /** The prefix of every error message: which step, which account. */
  who: string;
  startedAt: Date;
  /** Writes the account's sync_logs row and returns its result. */
  finish(entry: StepLog, result: Omit<AccountRefreshResult, "accountId" | "username">): Promise<
    AccountRefreshResult
  >;
}

/** A step either hands on what the next one needs or ends the refresh with its result. */
type Step<T> = { ok: T } | { done: AccountRefreshResult };

/** Refreshes one account's token and records the outcome in sync_logs. */
export async function refreshAccountToken(
  deps: AccountRefreshDeps,
  runLog: Logger,
  runId: string,
  due: DueToken,
  apiStats: ApiStats,
): Promise<AccountRefreshResult> {
  const startedAt = new Date();
  const log = runLog.child({ account_id: due.account_id });
  const refresh: Refresh = {
    deps,
    due,
    log,
    who: `[step token_refresh, account @${due.username}]`,
    startedAt,
    async finish(entry, result) {
      await logStep(deps.sql, runId, due.account_id, startedAt, entry);
      log.info("token_refresh_account", {
        status: entry.status,
        error_code: entry.errorCode,
        duration_ms: Date.now() - startedAt.getTime(),
      });
      return { accountId: due.account_id, username: due.username, ...result };
    },
  };
  if (due.refreshable_at.getTime() > startedAt.getTime()) return await skipTooYoung(refresh);
  const read = await readToken(refresh);
  if ("done" in read) return read.done;
  const fresh = await requestRefresh(refresh, read.ok.token, apiStats);
  if ("done" in fresh) return fresh.done;
  return await storeFresh(refresh, fresh.ok, read.ok.reEncrypted);
}

function skipTooYoung({ due, who, finish }: Refresh): Promise<AccountRefreshResult> {
  return finish({
    status: "skipped",
    errorCode: "token_too_young",
    errorMessage: `${who} Not refreshed: Threads refreshes a token only once it is 24 hours ` +
      `old; this one was issued at ${due.issued_at.toISOString()} and can be refreshed from ` +
      `${due.refreshable_at.toISOString()} (it expires at ${due.expires_at.toISOString()})`,
    metadata: { token_id: due.token_id, refreshable_at: due.refreshable_at.toISOString() },
  }, { outcome: "too_young", errorCode: "token_too_young" });
}

/** The stored token in plain text, and whether it was under a previous key. */
async function readToken(
  { deps, due, who, finish }: Refresh,
): Promise<Step<{ token: string; reEncrypted: boolean }>> {
  const { config } = deps;
  try {
    const token = await decrypt(due.access_token_encrypted, tokenKeys(config), due.account_id);
    const reEncrypted = config.TOKEN_ENCRYPTION_KEYS_PREVIOUS.length > 0 &&
      !(await decryptsWith(due.access_token_encrypted, config.TOKEN_ENCRYPTION_KEY, due));
    return { ok: { token, reEncrypted } };
  } catch (error) {
    // token_mismatch: the ciphertext is another account's (copied); a reconnect fixes it.
    const errorCode: ErrorCode = error instanceof TokenCryptoError
      ? error.code
      : "token_unreadable";
    const hint = errorCode === "token_unreadable"
      ? ": check TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_KEYS_PREVIOUS"
      : "";
    return {
      done: await finish({
        status: "failed",
        errorCode,
        errorMessage: `${who} Cannot refresh the token as it cannot be decrypted (${
          (error as Error).message
        })${hint}`,
        metadata: { token_id: due.token_id },
      }, { outcome: "failed", errorCode }),
    };
  }
}

/**
 * Asks Threads for a new token. A token the API refuses (auth_expired) is marked rejected, so
 * the sync skips the account until a reconnect; any other failure leaves it unchanged.
 */
async function requestRefresh(
  refresh: Refresh,
  token: string,
  apiStats: ApiStats,
): Promise<Step<{ accessToken: string; expiresInSeconds: number }>> {
  const { deps, due, log, finish } = refresh;
  const client = new ThreadsApiClient({
    baseUrl: deps.config.THREADS_API_BASE_URL,
    accessToken: token,
    limiter: deps.limiter,
    stats: apiStats,
    logger: log,
    fetch: deps.fetch,
  });
  try {
    return { ok: await client.refreshAccessToken() };
  } catch (error) {
    const logged = toSyncLogError(error, { step: "token_refresh", account: `@${due.username}` });
    const message = scrubSecrets(logged.message, token);
    if (error instanceof ThreadsApiError && error.kind === "auth_expired") {
      await deps.sql`select public.mark_token_rejected(${due.token_id},
        ${`${error.kind}: ${message}`})`;
      return {
        done: await finish({
          status: "failed",
          errorCode: "auth_expired",
          errorMessage: `${message} — the token is now marked rejected and the account is no ` +
            `longer synced: reconnect it (connect-account) with a new token`,
          metadata: {
            token_id: due.token_id,
            graph_code: error.code,
            graph_subcode: error.subcode,
          },
        }, { outcome: "rejected", errorCode: "auth_expired" }),
      };
    }
    return {
      done: await finish({
        status: "failed",
        errorCode: logged.code,
        errorMessage: `${message} — the token is unchanged; the next run tries again while it ` +
          `is unexpired (${due.expires_at.toISOString()})`,
        metadata: { token_id: due.token_id },
      }, { outcome: "failed", errorCode: logged.code }),
    };
  }
}

/** Encrypts the new token with the current key and stores it as the account's primary one. */
async function storeFresh(
  { deps, due, log, who, finish }: Refresh,
  fresh: { accessToken: string; expiresInSeconds: number },
  reEncrypted: boolean,
): Promise<AccountRefreshResult> {
  const issuedAt = new Date();
  const expiresAt = new Date(issuedAt.getTime() + fresh.expiresInSeconds * 1000);
  const encrypted = await encrypt(
    fresh.accessToken,
    deps.config.TOKEN_ENCRYPTION_KEY,
    due.account_id,
  );
  const stored = await storeRefreshedToken(deps.sql, log, {
    accountId: due.account_id,
    previousTokenId: due.token_id,
    encrypted,
    expiresAt,
    issuedAt,
  });
  if ("error" in stored) {
    const reason = scrubSecrets(stored.error, fresh.accessToken);
    // The one place the new token existed is this invocation's memory: say so loudly (without
    // the token), so an operator knows why the account's token is not the refreshed one.
    log.error("refreshed_token_not_stored", { attempts: stored.attempts, error: reason });
    return await finish({
      status: "failed",
      errorCode: "token_store_failed",
      errorMessage: `${who} Refreshed, but the new token could not be stored after ` +
        `${stored.attempts} attempt(s) (${reason}): the previous token stays primary and the ` +
        `next run refreshes it again while it is unexpired (${due.expires_at.toISOString()})`,
      metadata: { token_id: due.token_id, store_attempts: stored.attempts },
    }, { outcome: "failed", errorCode: "token_store_failed" });
  }
  if (!stored.tokenId) {
    return await finish({
      status: "skipped",
      errorCode: "token_superseded",
      errorMessage: `${who} Refreshed, but the account was reconnected meanwhile: the ` +
        `connected token is kept and the refreshed one discarded`,
      metadata: { token_id: due.token_id },
    }, { outcome: "superseded", errorCode: "token_superseded" });
  }
  return await finish({
    status: "completed",
    items: 1,
    metadata: {
      old_token_id: due.token_id,
      new_token_id: stored.tokenId,
      old_expires_at: due.expires_at.toISOString(),
      new_expires_at: expiresAt.toISOString(),
      re_encrypted: reEncrypted,
      previous_format: tokenFormat(due.access_token_encrypted),
      store_attempts: stored.attempts,
    },
  }, { outcome: "refreshed", expiresAt: expiresAt.toISOString() });
}

/**
 * An account whose refresh failed outside the API call (the database, say): recorded as
 * failed so the run goes on and the account is not tried again in this run. If even that
 * write fails, the error ends the run (the handler closes it as failed).
 */
export async function recordCrash(
  sql: Sql,
  log: Logger,
  runId: string,
  due: DueToken,
  error: unknown,
): Promise<AccountRefreshResult> {
  const logged = toSyncLogError(error, { step: "token_refresh", account: `@${due.username}` });
  log.error("token_refresh_account_crashed", { account_id: due.account_id, error: logged.message });
  await logStep(sql, runId, due.account_id, new Date(), {
    status: "failed",
    errorCode: logged.code,
    errorMessage: `${logged.message} — the token is unchanged; the next run tries again`,
    metadata: { token_id: due.token_id },
  });
  return {
    accountId: due.account_id,
    username: due.username,
    outcome: "failed",
    errorCode: logged.code,
  };
}

async function decryptsWith(stored: string, key: string, due: DueToken): Promise<boolean> {
  try {
    await decrypt(stored, [key], due.account_id);
    return true;
  } catch {
    return false;
  }
}

function logStep(sql: Sql, runId: string, accountId: string, startedAt: Date, entry: StepLog) {
  return writeSyncLog(sql, { runId, accountId, jobType: JOB, startedAt, ...entry });
}
