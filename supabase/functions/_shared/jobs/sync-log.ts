/**
 * One sync_logs row: an account's step (or token refresh) in a run. The table's checks make a
 * non-completed row carry a non-empty error code and message.
 */
import type { Sql } from "../platform/db.ts";

export interface SyncLogEntry {
  runId: string;
  accountId: string;
  jobType: "sync_posts" | "sync_metrics" | "sync_account_insights" | "token_refresh" | "dry_run";
  status: "completed" | "partial" | "failed" | "skipped";
  /** Which attempt of this account in the run (1 for the first). */
  attempt?: number;
  startedAt: Date;
  items?: number;
  errorCode?: string;
  errorMessage?: string;
  metadata?: Record<string, unknown>;
}

export async function writeSyncLog(sql: Sql, entry: SyncLogEntry): Promise<void> {
  await sql`
    insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status,
      attempt, started_at, completed_at, items_processed, error_code, error_message, metadata)
    values (${entry.runId}, ${entry.accountId}, ${entry.jobType}, ${entry.status},
      ${Math.max(entry.attempt ?? 1, 1)}, ${entry.startedAt}, ${new Date()}, ${entry.items ?? 0},
      ${entry.errorCode ?? null}, ${entry.errorMessage ?? null},
      ${sql.json((entry.metadata ?? {}) as Record<string, never>)})`;
}
