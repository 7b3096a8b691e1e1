/**
 * One sync_logs row: an account's step (or token refresh) in a run. The table's checks make a
 * non-completed row carry a non-empty error code and message.
 */
import type { ErrorCode } from "./error-codes.ts";
import type { Sql } from "../platform/db.ts";

export interface SyncLogEntry {
  runId: string;
  accountId: string;
  jobType: "sync_posts" | "sync_metrics" | "sync_account_insights" | "token_refresh" | "dry_run";
  status: "completed" | "partial" | "failed" | "skipped";
  /** Which attempt of this account in the run (1 for the first). */
  attempt?: number;
  startedAt: Date;
  /** When the step ended; when the row is written, unless given (a row written later). */
  completedAt?: Date;
  items?: number;
  errorCode?: ErrorCode;
  errorMessage?: string;
  metadata?: Record<string, unknown>;
}

/** The entry as sync_logs columns (what finish_run_account_with_logs reads from JSON). */
export function syncLogRow(entry: SyncLogEntry) {
  return {
    job_type: entry.jobType,
    status: entry.status,
    attempt: Math.max(entry.attempt ?? 1, 1),
    started_at: entry.startedAt,
    completed_at: entry.completedAt ?? new Date(),
    items_processed: entry.items ?? 0,
    error_code: entry.errorCode ?? null,
    error_message: entry.errorMessage ?? null,
    metadata: entry.metadata ?? {},
  };
}

export async function writeSyncLog(sql: Sql, entry: SyncLogEntry): Promise<void> {
  const row = syncLogRow(entry);
  await sql`
    insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status,
      attempt, started_at, completed_at, items_processed, error_code, error_message, metadata)
    values (${entry.runId}, ${entry.accountId}, ${row.job_type}, ${row.status},
      ${row.attempt}, ${row.started_at}, ${row.completed_at}, ${row.items_processed},
      ${row.error_code}, ${row.error_message},
      ${sql.json(row.metadata as Record<string, never>)})`;
}
