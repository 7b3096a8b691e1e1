/**
 * What an account is claimed with, and the checks before its steps: a usable token, not
 * synced since the run started, not near its 24-hour call budget, a token that decrypts.
 * An account stopped here is recorded at once (one sync_logs row, its outcome).
 */
import type { ErrorCode } from "../jobs/error-codes.ts";
import { decrypt, TokenCryptoError } from "../crypto.ts";
import { type Config, tokenKeys } from "../platform/config.ts";
import type { Sql } from "../platform/db.ts";
import type { AccountAttempt, AccountResult } from "./account.ts";
import { finishAccount, result } from "./account-outcome.ts";

/** A claimed account, as claim_run_account_for_sync describes it (one round trip). */
export interface ClaimedAccount {
  account_id: string;
  workspace_id: string;
  threads_user_id: string;
  username: string;
  last_synced_at: Date | null;
  token_id: string | null;
  access_token_encrypted: string | null;
  token_expires_at: Date | null;
  token_rejected_at: Date | null;
  attempts: number;
  run_started_at: Date;
  calls_24h: number;
  /** Steps an earlier attempt of this run completed. */
  steps_done: string[];
}

/** Back off an account that has spent this share of its 24-hour call budget ... */
export const BUDGET_BACKOFF_SHARE = 0.8;
/** ... for this long (its oldest calls leave the rolling window meanwhile). */
const BUDGET_BACKOFF_MS = 60 * 60_000;

/**
 * Claims the run's next due account with what its sync needs (its row and token, the 24-hour
 * call count, the steps done before) in one call; undefined when none is claimable now.
 */
export async function claimAccount(
  sql: Sql,
  runId: string,
  worker: string,
  lease: string,
): Promise<ClaimedAccount | undefined> {
  const [row] = await sql<ClaimedAccount[]>`
    select * from public.claim_run_account_for_sync(${runId}, ${worker}, ${lease}::interval)`;
  return row;
}

/**
 * The account's API calls in the last 24 hours, as a SQL expression over `a` (the account):
 * the sum of its steps' calls (sync runs and dry runs alike), which the budget check reads.
 */
export function callsIn24Hours(sql: Sql) {
  return sql`public.account_api_calls_24h(a.id)`;
}

/** Why an account is left alone for its 24-hour call budget, or undefined when it is not. */
export function callBudgetSpent(config: Config, username: string, calls: number) {
  const budget = config.SYNC_ACCOUNT_DAILY_CALL_BUDGET;
  if (calls < budget * BUDGET_BACKOFF_SHARE) return undefined;
  return `Account @${username} made ${calls} API calls in the last 24 hours, over ${
    BUDGET_BACKOFF_SHARE * 100
  }% of its budget of ${budget}`;
}

/** A token that cannot be decrypted, as an error code and a message an operator can act on. */
export function tokenProblem(
  error: unknown,
  username: string,
): { code: ErrorCode; message: string } {
  // token_mismatch: a ciphertext of another account (v2 binds each token to its account).
  const code: ErrorCode = error instanceof TokenCryptoError ? error.code : "token_unreadable";
  const detail = error instanceof TokenCryptoError
    ? error.message
    : "the token cannot be decrypted";
  const hint = code === "token_unreadable"
    ? " (check TOKEN_ENCRYPTION_KEY and TOKEN_ENCRYPTION_KEYS_PREVIOUS)"
    : "";
  return { code, message: `Account @${username}: ${detail}${hint}` };
}

/**
 * The checks before the steps: the decrypted token when the account is to be synced, or the
 * result it was recorded with when it is not.
 */
export async function preCheck(
  attempt: AccountAttempt,
): Promise<{ token: string } | { finished: AccountResult }> {
  const { deps, row, log, logs } = attempt;
  const stop = (status: "skipped" | "failed", code: ErrorCode, message: string) => {
    logs.add("sync_posts", new Date(), { status, errorCode: code, errorMessage: message });
    const r = result(attempt, status, { errorCode: code, errorMessage: message });
    return finishAccount(attempt, r).then((finished) => ({ finished }));
  };
  const token = row.access_token_encrypted;
  if (
    !token || !row.token_expires_at || row.token_expires_at <= new Date() || row.token_rejected_at
  ) {
    return stop(
      "skipped",
      "token_expired",
      `Account @${row.username} has no usable token (${
        row.token_rejected_at ? "rejected by the Threads API" : "missing or expired"
      }): reconnect it (npm run connect-account), or let token-refresh renew it`,
    );
  }
  // Synced by another run (a manual sync) since this run started: already fresh.
  if (row.last_synced_at && row.last_synced_at >= row.run_started_at) {
    log.info("account_already_fresh", { last_synced_at: row.last_synced_at.toISOString() });
    return { finished: await finishAccount(attempt, result(attempt, "completed")) };
  }
  // Near the account's 24-hour call budget: back off before the API has to refuse.
  const overBudget = callBudgetSpent(deps.config, row.username, row.calls_24h);
  if (overBudget) {
    const until = new Date(Date.now() + BUDGET_BACKOFF_MS);
    await deps.sql`select public.defer_account_sync(${row.account_id}, ${until})`;
    return stop("skipped", "api_budget", `${overBudget}: deferred until ${until.toISOString()}`);
  }
  try {
    return { token: await decrypt(token, tokenKeys(deps.config), row.account_id) };
  } catch (error) {
    const { code, message } = tokenProblem(error, row.username);
    return stop("failed", code, message);
  }
}
