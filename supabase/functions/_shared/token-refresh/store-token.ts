/**
 * Storing a refreshed token as the account's primary one. The new token exists only in this
 * invocation's memory until it is stored, so a failed store is retried with backoff (a
 * database blip or a lock timeout must not lose it) before the refresh is given up as
 * token_store_failed.
 */
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import { sqlState } from "../platform/postgres-errors.ts";
import { backoffDelay, type BackoffPolicy, withRetry } from "../platform/retry.ts";

/**
 * 5 attempts, full jitter from 250 ms doubling to 2 s: under 4 s in the worst case, about 2 s
 * on average.
 */
export const STORE_ATTEMPTS = 5;
const STORE_BACKOFF: BackoffPolicy = { baseDelayMs: 250, maxDelayMs: 2_000 };

export interface RefreshedToken {
  accountId: string;
  /** The token it replaces (store_account_token keeps it primary if the account moved on). */
  previousTokenId: string;
  encrypted: string;
  expiresAt: Date;
  issuedAt: Date;
}

export type StoreResult =
  | { tokenId: string | null; attempts: number }
  | { error: string; attempts: number };

/**
 * Stores the token with store_account_token. A project SQLSTATE (TS...) is a refusal, not a
 * fault: it is not retried. The token id is null when the account was reconnected meanwhile
 * (store_account_token's answer).
 */
export async function storeRefreshedToken(
  sql: Sql,
  log: Logger,
  token: RefreshedToken,
): Promise<StoreResult> {
  const { accountId, previousTokenId, encrypted, expiresAt, issuedAt } = token;
  let attempts = 0;
  try {
    const tokenId = await withRetry(async (attempt) => {
      attempts = attempt;
      const [{ token_id }] = await sql`select public.store_account_token(
        ${accountId}, ${encrypted}, ${expiresAt}, ${issuedAt}, ${previousTokenId}, ${issuedAt})
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
