/**
 * A token-refresh run: refresh every primary token that expires within the window (and is at
 * least 24 hours old, as Threads requires), store the new token encrypted with the current key,
 * and record each account in sync_logs (job_type 'token_refresh') under one system_job_logs
 * run that holds the job lock 'token_refresh'.
 *
 * Per account (one sync_logs row each; every non-completed row has a code and a message):
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
 * The run works within SYNC_TIME_BUDGET_MS and hands the rest to a fresh invocation through
 * pg_net (hand_off_token_refresh_run); tokens_due_for_refresh leaves out the accounts the run
 * already tried, so a continuation or a resumed run never tries one twice.
 *
 * Rotation: decrypt tries the current key, then TOKEN_ENCRYPTION_KEYS_PREVIOUS; the new token
 * is always encrypted with the current key in the v2 format, bound to its account
 * (sync_logs.metadata.re_encrypted says when the old one was under a previous key,
 * previous_format which format it had).
 */
import { decrypt, encrypt, TokenCryptoError, tokenFormat } from "../crypto.ts";
import { type SyncLogEntry, writeSyncLog } from "../jobs/sync-log.ts";
import { type Config, tokenKeys } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import { toSyncLogError } from "../jobs/sync-log-error.ts";
import { ThreadsApiError } from "../threads/errors.ts";
import type { Logger } from "../platform/log.ts";
import {
  beginJobRun,
  continueJobRun,
  handOffJobRun,
  type JobRunStart,
  startHeartbeat,
} from "../jobs/job-run.ts";
import { sqlState } from "../platform/postgres-errors.ts";
import type { RateLimiter } from "../threads/rate-limiter.ts";
import { backoffDelay, type BackoffPolicy, withRetry } from "../platform/retry.ts";
import { scrubSecrets } from "../platform/scrub-secrets.ts";
import { createThreadsApiStats, ThreadsApiClient } from "../threads-api.ts";
import type { TokenRefreshConfig } from "./config.ts";

export interface TokenRefreshDeps {
  sql: Sql;
  config: Config;
  refreshConfig: TokenRefreshConfig;
  limiter: RateLimiter;
  log: Logger;
  invocationId: string;
  /** When this invocation started (ms since epoch): the time budget counts from here. */
  invocationStartedAt: number;
  fetch?: typeof fetch;
}

/** What a run covers; kept in system_job_logs.metadata.request for its continuations. */
export interface TokenRefreshScope {
  accountIds?: string[];
  workspaceId?: string;
  /** Overrides TOKEN_REFRESH_WINDOW_DAYS for this run. */
  windowDays?: number;
}

export type TokenRefreshStart = JobRunStart;

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
  errorCode?: string;
  /** The new token's expiry, when refreshed. */
  expiresAt?: string;
}

export interface TokenRefreshSummary {
  runId: string;
  status: string;
  handedOff: boolean;
  windowDays: number;
  /** The whole run so far, from its sync_logs rows. */
  accounts: { total: number; refreshed: number; failed: number; rejected: number; skipped: number };
  /** This invocation's accounts (at most 200 listed). */
  results: AccountRefreshResult[];
  invocation: { durationMs: number; accountsProcessed: number; apiCalls: number };
}

const JOB = "token_refresh";
/** Accounts fetched per round; each round re-reads what is still due. */
const ROUND_SIZE = 50;
const MAX_LISTED_RESULTS = 200;
/**
 * Storing a refreshed token: the new token exists only in memory until it is stored, so a
 * failed store is retried (5 attempts, full jitter from 250 ms doubling to 2 s: under 4 s in
 * the worst case, about 2 s on average) before the refresh is given up as token_store_failed.
 */
export const STORE_ATTEMPTS = 5;
const STORE_BACKOFF: BackoffPolicy = { baseDelayMs: 250, maxDelayMs: 2_000 };
const ttlOf = (config: Config) => `${config.SYNC_LOCK_TTL_MINUTES} minutes`;

/** Starts, resumes or continues the run the request asks for (one SQL call). */
export function startTokenRefreshRun(
  deps: Pick<TokenRefreshDeps, "sql" | "config">,
  scope: TokenRefreshScope,
  runId?: string,
): Promise<TokenRefreshStart> {
  const ttl = ttlOf(deps.config);
  if (runId) return continueJobRun(deps.sql, runId, [JOB], ttl);
  const manual = Boolean(scope.accountIds || scope.workspaceId);
  return beginJobRun(deps.sql, JOB, manual ? "manual" : "cron", {
    accountIds: scope.accountIds ?? null,
    workspaceId: scope.workspaceId ?? null,
    windowDays: scope.windowDays ?? null,
  }, ttl);
}

interface DueToken {
  account_id: string;
  username: string;
  token_id: string;
  access_token_encrypted: string;
  expires_at: Date;
  issued_at: Date;
  refreshable_at: Date;
}

/**
 * Works the run until nothing is due (then finishes it) or the time budget is spent (then
 * hands off). Returns what this invocation did.
 */
export async function workTokenRefreshRun(
  deps: TokenRefreshDeps,
  runId: string,
): Promise<TokenRefreshSummary> {
  const { sql, config } = deps;
  const ttl = ttlOf(config);
  const holder = `run:${runId}`;
  const deadline = deps.invocationStartedAt + config.SYNC_TIME_BUDGET_MS;
  const log = deps.log.child({ run_id: runId, job_type: JOB });
  const [{ request }] = await sql`select metadata -> 'request' as request
    from public.system_job_logs where id = ${runId}`;
  const scope: TokenRefreshScope = {
    accountIds: request?.accountIds ?? undefined,
    workspaceId: request?.workspaceId ?? undefined,
    windowDays: request?.windowDays ?? undefined,
  };
  const windowDays = scope.windowDays ?? deps.refreshConfig.TOKEN_REFRESH_WINDOW_DAYS;
  const apiStats = createThreadsApiStats();
  log.info("token_refresh_invocation_started", { window_days: windowDays });

  const heartbeat = startHeartbeat(
    async () => {
      const [{ ok }] = await sql`select public.extend_job_lock(${JOB}, ${holder},
        ${ttl}::interval, ${runId}) as ok`;
      return ok;
    },
    Math.min(30_000, config.SYNC_LOCK_TTL_MINUTES * 60_000 / 5),
    log,
  );

  const results: AccountRefreshResult[] = [];
  let processed = 0;
  let done = false;
  // Every invocation does at least one account, however little budget is left when it starts:
  // otherwise a run could hand off forever without progress.
  // A worker that fails (a database fault while recording) stops the others through this flag.
  let crashed: unknown;
  const mayGoOn = () =>
    !heartbeat.lost() && crashed === undefined && (Date.now() < deadline || processed === 0);
  try {
    while (mayGoOn()) {
      const due = await sql<DueToken[]>`select account_id, username, token_id,
          access_token_encrypted, expires_at, issued_at, refreshable_at
        from public.tokens_due_for_refresh(${`${windowDays} days`}::interval, ${runId},
          ${scope.accountIds ?? null}::uuid[], ${scope.workspaceId ?? null}::uuid, ${ROUND_SIZE})`;
      if (due.length === 0) {
        done = true;
        break;
      }
      let next = 0;
      const worker = async () => {
        while (next < due.length && mayGoOn()) {
          const token = due[next++];
          const result = await refreshAccountToken(deps, log, runId, token, apiStats)
            .catch((error) => recordCrash(deps, log, runId, token, error));
          processed++;
          if (results.length < MAX_LISTED_RESULTS) results.push(result);
        }
      };
      // allSettled: the round (and then the run's close-out) ends only when every worker
      // has stopped, so the run is never closed while a worker still refreshes a token.
      const settled = await Promise.allSettled(
        Array.from(
          { length: Math.min(config.SYNC_BATCH_SIZE, due.length) },
          () => worker().catch((error) => (crashed ??= error, Promise.reject(error))),
        ),
      );
      const failed = settled.find((r): r is PromiseRejectedResult => r.status === "rejected");
      if (failed) throw failed.reason;
      // A short round, all of it done: nothing else was due (no need to ask again, or to
      // hand off an empty remainder).
      if (due.length < ROUND_SIZE && next >= due.length) {
        done = true;
        break;
      }
    }
  } finally {
    heartbeat.stop();
  }

  let status = "running";
  let handedOff = false;
  if (done) {
    [{ status }] = await sql`select public.finish_token_refresh_run(${runId}) as status`;
  } else if (!heartbeat.lost()) {
    await handOffJobRun(sql, runId, ttl);
    handedOff = true;
  }
  const [counts] = await sql`select
      count(*)::int as total,
      count(*) filter (where status = 'completed')::int as refreshed,
      count(*) filter (where status = 'failed')::int as failed,
      count(*) filter (where status = 'failed' and error_code = 'auth_expired')::int as rejected,
      count(*) filter (where status = 'skipped')::int as skipped
    from public.sync_logs where run_id = ${runId} and job_type = ${JOB}`;
  const summary: TokenRefreshSummary = {
    runId,
    status,
    handedOff,
    windowDays,
    accounts: {
      total: counts.total,
      refreshed: counts.refreshed,
      failed: counts.failed,
      rejected: counts.rejected,
      skipped: counts.skipped,
    },
    results,
    invocation: {
      durationMs: Date.now() - deps.invocationStartedAt,
      accountsProcessed: processed,
      apiCalls: apiStats.calls,
    },
  };
  log.info(status === "running" ? "token_refresh_invocation_finished" : "token_refresh_finished", {
    status,
    handed_off: handedOff,
    lock_lost: heartbeat.lost(),
    accounts: summary.accounts,
    duration_ms: summary.invocation.durationMs,
    api_calls: apiStats.calls,
  });
  return summary;
}

/** Refreshes one account's token and records the outcome in sync_logs. */
async function refreshAccountToken(
  deps: TokenRefreshDeps,
  runLog: Logger,
  runId: string,
  due: DueToken,
  apiStats: ReturnType<typeof createThreadsApiStats>,
): Promise<AccountRefreshResult> {
  const startedAt = new Date();
  const log = runLog.child({ account_id: due.account_id });
  const who = `[step token_refresh, account @${due.username}]`;
  const base = { accountId: due.account_id, username: due.username };
  const record = async (entry: StepLog) => {
    await logStep(deps.sql, runId, due.account_id, startedAt, entry);
    log.info("token_refresh_account", {
      status: entry.status,
      error_code: entry.errorCode,
      duration_ms: Date.now() - startedAt.getTime(),
    });
  };

  if (due.refreshable_at.getTime() > startedAt.getTime()) {
    await record({
      status: "skipped",
      errorCode: "token_too_young",
      errorMessage: `${who} Not refreshed: Threads refreshes a token only once it is 24 hours ` +
        `old; this one was issued at ${due.issued_at.toISOString()} and can be refreshed from ` +
        `${due.refreshable_at.toISOString()} (it expires at ${due.expires_at.toISOString()})`,
      metadata: { token_id: due.token_id, refreshable_at: due.refreshable_at.toISOString() },
    });
    return { ...base, outcome: "too_young", errorCode: "token_too_young" };
  }

  let token: string;
  let reEncrypted = false;
  try {
    token = await decrypt(due.access_token_encrypted, tokenKeys(deps.config), due.account_id);
    reEncrypted = deps.config.TOKEN_ENCRYPTION_KEYS_PREVIOUS.length > 0 &&
      !(await decryptsWith(due.access_token_encrypted, deps.config.TOKEN_ENCRYPTION_KEY, due));
  } catch (error) {
    // token_mismatch: the ciphertext is another account's (copied); a reconnect fixes it.
    const errorCode = error instanceof TokenCryptoError ? error.code : "token_unreadable";
    await record({
      status: "failed",
      errorCode,
      errorMessage: `${who} Cannot refresh the token as it cannot be decrypted (${
        (error as Error).message
      })${
        errorCode === "token_unreadable"
          ? ": check TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_KEYS_PREVIOUS"
          : ""
      }`,
      metadata: { token_id: due.token_id },
    });
    return { ...base, outcome: "failed", errorCode };
  }

  const client = new ThreadsApiClient({
    baseUrl: deps.config.THREADS_API_BASE_URL,
    accessToken: token,
    limiter: deps.limiter,
    stats: apiStats,
    logger: log,
    fetch: deps.fetch,
  });
  let fresh;
  try {
    fresh = await client.refreshAccessToken();
  } catch (error) {
    const logged = toSyncLogError(error, { step: "token_refresh", account: `@${due.username}` });
    const message = scrubSecrets(logged.message, token);
    if (error instanceof ThreadsApiError && error.kind === "auth_expired") {
      await deps.sql`select public.mark_token_rejected(${due.token_id},
        ${`${error.kind}: ${message}`})`;
      await record({
        status: "failed",
        errorCode: "auth_expired",
        errorMessage: `${message} — the token is now marked rejected and the account is no ` +
          `longer synced: reconnect it (connect-account) with a new token`,
        metadata: { token_id: due.token_id, graph_code: error.code, graph_subcode: error.subcode },
      });
      return { ...base, outcome: "rejected", errorCode: "auth_expired" };
    }
    await record({
      status: "failed",
      errorCode: logged.code,
      errorMessage: `${message} — the token is unchanged; the next run tries again while it ` +
        `is unexpired (${due.expires_at.toISOString()})`,
      metadata: { token_id: due.token_id },
    });
    return { ...base, outcome: "failed", errorCode: logged.code };
  }

  const issuedAt = new Date();
  const expiresAt = new Date(issuedAt.getTime() + fresh.expiresInSeconds * 1000);
  const encrypted = await encrypt(
    fresh.accessToken,
    deps.config.TOKEN_ENCRYPTION_KEY,
    due.account_id,
  );
  const stored = await storeRefreshedToken(deps, log, due, encrypted, expiresAt, issuedAt);
  if ("error" in stored) {
    const reason = scrubSecrets(stored.error, fresh.accessToken);
    // The one place the new token existed is this invocation's memory: say so loudly (without
    // the token), so an operator knows why the account's token is not the refreshed one.
    log.error("refreshed_token_not_stored", { attempts: stored.attempts, error: reason });
    await record({
      status: "failed",
      errorCode: "token_store_failed",
      errorMessage: `${who} Refreshed, but the new token could not be stored after ` +
        `${stored.attempts} attempt(s) (${reason}): the previous token stays primary and the ` +
        `next run refreshes it again while it is unexpired (${due.expires_at.toISOString()})`,
      metadata: { token_id: due.token_id, store_attempts: stored.attempts },
    });
    return { ...base, outcome: "failed", errorCode: "token_store_failed" };
  }
  const newTokenId = stored.tokenId;
  if (!newTokenId) {
    await record({
      status: "skipped",
      errorCode: "token_superseded",
      errorMessage: `${who} Refreshed, but the account was reconnected meanwhile: the ` +
        `connected token is kept and the refreshed one discarded`,
      metadata: { token_id: due.token_id },
    });
    return { ...base, outcome: "superseded", errorCode: "token_superseded" };
  }
  await record({
    status: "completed",
    items: 1,
    metadata: {
      old_token_id: due.token_id,
      new_token_id: newTokenId,
      old_expires_at: due.expires_at.toISOString(),
      new_expires_at: expiresAt.toISOString(),
      re_encrypted: reEncrypted,
      previous_format: tokenFormat(due.access_token_encrypted),
      store_attempts: stored.attempts,
    },
  });
  return { ...base, outcome: "refreshed", expiresAt: expiresAt.toISOString() };
}

/**
 * An account whose refresh failed outside the API call (the database, say): recorded as
 * failed so the run goes on and the account is not tried again in this run. If even that
 * write fails, the error ends the run (the handler closes it as failed).
 */
async function recordCrash(
  deps: TokenRefreshDeps,
  log: Logger,
  runId: string,
  due: DueToken,
  error: unknown,
): Promise<AccountRefreshResult> {
  const logged = toSyncLogError(error, { step: "token_refresh", account: `@${due.username}` });
  log.error("token_refresh_account_crashed", { account_id: due.account_id, error: logged.message });
  await logStep(deps.sql, runId, due.account_id, new Date(), {
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

/**
 * Stores a refreshed token as the account's primary one, retrying a failed store with backoff
 * (a database blip or a lock timeout must not lose the token). A project SQLSTATE (TS...) is a
 * refusal, not a fault: it is not retried. The token id is null when the account was
 * reconnected meanwhile (store_account_token's answer).
 */
async function storeRefreshedToken(
  deps: TokenRefreshDeps,
  log: Logger,
  due: DueToken,
  encrypted: string,
  expiresAt: Date,
  issuedAt: Date,
): Promise<{ tokenId: string | null; attempts: number } | { error: string; attempts: number }> {
  let attempts = 0;
  try {
    const tokenId = await withRetry(async (attempt) => {
      attempts = attempt;
      const [{ token_id }] = await deps.sql`select public.store_account_token(
        ${due.account_id}, ${encrypted}, ${expiresAt}, ${issuedAt}, ${due.token_id}, ${issuedAt})
        as token_id`;
      return token_id as string | null;
    }, {
      delayFor: (error, attempt) =>
        attempt < STORE_ATTEMPTS && !sqlState(error)?.startsWith("TS")
          ? backoffDelay(attempt, STORE_BACKOFF)
          : undefined,
      onRetry: (error, attempt, delayMs) =>
        log.warn("token_store_retry", { attempt, delay_ms: delayMs, error: String(error) }),
    });
    return { tokenId, attempts };
  } catch (error) {
    return { error: (error as Error)?.message ?? String(error), attempts };
  }
}

async function decryptsWith(stored: string, key: string, due: DueToken): Promise<boolean> {
  try {
    await decrypt(stored, [key], due.account_id);
    return true;
  } catch {
    return false;
  }
}

type StepLog = Pick<SyncLogEntry, "status" | "items" | "errorCode" | "errorMessage" | "metadata">;

function logStep(sql: Sql, runId: string, accountId: string, startedAt: Date, entry: StepLog) {
  return writeSyncLog(sql, { runId, accountId, jobType: JOB, startedAt, ...entry });
}
