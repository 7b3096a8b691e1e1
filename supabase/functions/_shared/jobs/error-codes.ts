/**
 * Every error code the functions record: sync_logs.error_code, a run's error (its answer and
 * system_job_logs.error_code) and sync_run_accounts.last_error_code. Writers take an
 * `ErrorCode`, so a code that is not listed here does not type-check, and
 * tests/unit/docs-guard.test.ts reads `ERROR_CODES` to demand a row for each in the README's
 * troubleshooting tables. (The SQL writes a few codes of its own; the guard reads those from
 * the migrations.)
 */
import { TOKEN_CRYPTO_ERROR_CODES } from "../crypto.ts";
import { THREADS_ERROR_KINDS } from "../threads/error-kinds.ts";

/** The jobs' own codes, beside the Threads API error kinds and the token codes. */
export const JOB_ERROR_CODES = [
  "api_budget", // an account near its 24-hour call budget, left alone
  "api_unavailable", // the circuit breaker opened: the API failed for every account
  "database_timeout", // a step's statement hit a database timeout
  "internal_error", // anything else thrown during a step
  "time_budget", // the invocation's time ran out before the account finished
  "token_expired", // the sync found no usable token (missing, expired or rejected)
  "token_store_failed", // token-refresh could not store the new token
  "token_superseded", // a reconnect replaced the token during its refresh
  "token_too_young", // Threads refreshes only tokens older than 24 hours
  "worker_failed", // a worker of the invocation failed (a run's error)
] as const;

export const ERROR_CODES = [
  ...THREADS_ERROR_KINDS,
  ...TOKEN_CRYPTO_ERROR_CODES,
  ...JOB_ERROR_CODES,
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];
