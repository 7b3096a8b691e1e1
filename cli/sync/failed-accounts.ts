/**
 * `npm run sync -- --failed-since <time>`: the accounts to sync again. An account qualifies
 * when its last sync that was attempted (completed, partial or failed in sync_run_accounts;
 * skipped outcomes were never attempted) failed or partly failed at or after `since`. An
 * account that failed and then succeeded is fine and left alone; deactivated accounts are
 * left out, since no run syncs them.
 */
import type postgres from "postgres";

export interface FailedAccount {
  accountId: string;
  username: string;
  workspaceId: string;
  status: "failed" | "partial";
  finishedAt: Date;
  errorCode: string | null;
}

export async function findFailedAccounts(
  sql: postgres.Sql,
  since: Date,
  workspaceId: string | null,
): Promise<FailedAccount[]> {
  const rows = await sql`
    with candidates as (
      select distinct ra.workspace_threads_account_id as account_id
      from public.sync_run_accounts ra
      where ra.status in ('failed', 'partial') and ra.finished_at >= ${since}
    ),
    latest as (
      select distinct on (ra.workspace_threads_account_id)
        ra.workspace_threads_account_id as account_id, ra.status, ra.finished_at,
        ra.last_error_code
      from public.sync_run_accounts ra
      join candidates c on c.account_id = ra.workspace_threads_account_id
      where ra.status in ('completed', 'partial', 'failed')
      order by ra.workspace_threads_account_id, ra.finished_at desc
    )
    select l.account_id, a.username, a.workspace_id, l.status, l.finished_at, l.last_error_code
    from latest l
    join public.workspace_threads_accounts a on a.id = l.account_id
    where l.status in ('failed', 'partial') and l.finished_at >= ${since}
      and a.is_active
      and (${workspaceId}::uuid is null or a.workspace_id = ${workspaceId}::uuid)
    order by l.finished_at desc, a.username`;
  return rows.map((r) => ({
    accountId: r.account_id,
    username: r.username,
    workspaceId: r.workspace_id,
    status: r.status,
    finishedAt: r.finished_at,
    errorCode: r.last_error_code,
  }));
}
