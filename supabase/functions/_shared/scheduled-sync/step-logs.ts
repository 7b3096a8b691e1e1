/**
 * An account attempt's sync_logs rows, kept until they can ride on a database call the
 * account makes anyway: the last ones go with the account's finish
 * (finish_run_account_with_logs). Only a row a later step must not overtake is written on its
 * own (flush): a retry of the account skips the steps whose rows say completed.
 */
import type { Sql } from "../platform/db.ts";
import { type SyncLogEntry, syncLogRow, writeSyncLog } from "../jobs/sync-log.ts";

export type StepLog = Pick<
  SyncLogEntry,
  "status" | "items" | "errorCode" | "errorMessage" | "metadata"
>;

export class StepLogs {
  #pending: SyncLogEntry[] = [];

  constructor(
    private readonly sql: Sql,
    private readonly runId: string,
    private readonly accountId: string,
    private readonly attempt: number,
  ) {}

  add(jobType: SyncLogEntry["jobType"], startedAt: Date, entry: StepLog): void {
    const { runId, accountId, attempt } = this;
    const completedAt = new Date();
    this.#pending.push({ runId, accountId, jobType, attempt, startedAt, completedAt, ...entry });
  }

  /** The rows not written yet, as finish_run_account_with_logs reads them (forgotten here). */
  take() {
    return this.#pending.splice(0).map(syncLogRow);
  }

  /** Writes the rows not written yet now. */
  async flush(): Promise<void> {
    for (const entry of this.#pending.splice(0)) await writeSyncLog(this.sql, entry);
  }
}
