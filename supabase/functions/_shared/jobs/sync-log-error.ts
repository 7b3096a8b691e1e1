/**
 * What a sync_logs row records for anything thrown during a step: a non-empty error code (the
 * Threads error's kind, `database_timeout` or `internal_error`) and a message that names the
 * step and account and never a token.
 */
import type { ErrorCode } from "./error-codes.ts";
import { redact } from "../platform/log.ts";
import { sqlState } from "../platform/postgres-errors.ts";
import { ThreadsApiError } from "../threads/errors.ts";

/**
 * The SQLSTATEs of the connection's timeouts (db.ts), recorded as `database_timeout`: the
 * step's statement was cancelled (its transaction rolled back), so the step wrote nothing.
 */
const DATABASE_TIMEOUTS: Record<string, string> = {
  "55P03": "a lock was not granted within lock_timeout (another session holds it, e.g. an " +
    "operator's LOCK TABLE or a migration)",
  "57014": "a statement was cancelled, as it ran longer than statement_timeout or an " +
    "operator cancelled it",
  "25P03": "a transaction stayed idle longer than idle_in_transaction_session_timeout",
};

/** A row's `error_code`/`error_message` pair for sync_logs: both always non-empty. */
export interface SyncLogError {
  code: ErrorCode;
  message: string;
}

/**
 * Turns anything thrown during a step into what sync_logs records. `context` says which
 * account and step, so the row explains itself without the function's log.
 */
export function toSyncLogError(
  error: unknown,
  context: { step?: string; account?: string } = {},
): SyncLogError {
  const where = [
    context.step && `step ${context.step}`,
    context.account && `account ${context.account}`,
  ]
    .filter(Boolean).join(", ");
  const prefix = where ? `[${where}] ` : "";
  if (error instanceof ThreadsApiError) {
    const said = error.graphMessage ? ` (Threads said: ${error.graphMessage})` : "";
    const trace = error.fbtraceId ? ` [fbtrace_id ${error.fbtraceId}]` : "";
    return { code: error.kind, message: `${prefix}${error.message}${said}${trace}` };
  }
  const detail = error instanceof Error ? error.message : String(error ?? "");
  const text = clean(detail).trim() || "no detail was given";
  const timeout = DATABASE_TIMEOUTS[sqlState(error) ?? ""];
  if (timeout) {
    return {
      code: "database_timeout",
      message: `${prefix}Cannot finish the step as the database timed out: ${timeout} ` +
        `(SQLSTATE ${sqlState(error)}: ${text}); nothing of the step was written`,
    };
  }
  return {
    code: "internal_error",
    message: `${prefix}Cannot finish the step as it failed: ${text}`,
  };
}

function clean(text: string): string {
  return redact(text) as string;
}
