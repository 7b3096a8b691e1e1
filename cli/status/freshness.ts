/**
 * The freshness objective as `npm run status` shows it: the sync_freshness row (overall, or the
 * workspace's) with the alert objective, and the target that also decides which accounts are
 * stale.
 */
import type postgres from "postgres";

type Tx = postgres.TransactionSql;

const iso = (value: Date | null | undefined) => value ? value.toISOString() : null;

/** The freshness objective (view sync_freshness): the overall row, or the workspace's. */
export interface Freshness {
  freshAccounts: number;
  activeAccounts: number;
  /** NULL without active accounts. */
  freshShare: number | null;
  neverSynced: number;
  oldestCompleteSyncAt: string | null;
  targetMinutes: number;
  /** monitoring_settings.alert_freshness_min_share: below it the freshness alert opens. */
  minShare: number;
}

export async function readFreshness(tx: Tx, ws: string | null): Promise<Freshness | null> {
  const [row] = await tx`
    select f.fresh_accounts, f.active_accounts, f.fresh_share, f.never_synced,
      f.oldest_complete_sync_at, f.target_minutes, m.alert_freshness_min_share
    from public.sync_freshness f cross join public.monitoring_settings m
    where ${ws === null ? tx`f.scope = 'overall'` : tx`f.workspace_id = ${ws}`}`;
  if (!row) return null;
  return {
    freshAccounts: Number(row.fresh_accounts),
    activeAccounts: Number(row.active_accounts),
    freshShare: row.fresh_share === null ? null : Number(row.fresh_share),
    neverSynced: Number(row.never_synced),
    oldestCompleteSyncAt: iso(row.oldest_complete_sync_at),
    targetMinutes: Number(row.target_minutes),
    minShare: Number(row.alert_freshness_min_share),
  };
}

/**
 * Stale is the freshness objective's "not fresh": no complete sync within the target of
 * monitoring_settings (30 minutes unless changed), the same rule as sync_freshness.
 */
export async function readFreshnessTarget(tx: Tx): Promise<number> {
  const [row] = await tx`select sync_freshness_target_minutes from public.monitoring_settings`;
  return Number(row.sync_freshness_target_minutes);
}
