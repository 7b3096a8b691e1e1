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

/**
 * The freshness target (monitoring_settings, 30 minutes unless changed), which also makes an
 * account stale in the attention list (the same rule as sync_freshness), and the objective's
 * row: overall, or the workspace's (none for a workspace without active accounts).
 */
export async function readFreshness(
  tx: Tx,
  ws: string | null,
): Promise<{ targetMinutes: number; freshness: Freshness | null }> {
  const [row] = await tx`
    select m.sync_freshness_target_minutes, m.alert_freshness_min_share, f.fresh_accounts,
      f.active_accounts, f.fresh_share, f.never_synced, f.oldest_complete_sync_at
    from public.monitoring_settings m
    left join public.sync_freshness f
      on ${ws === null ? tx`f.scope = 'overall'` : tx`f.workspace_id = ${ws}`}`;
  const targetMinutes = Number(row.sync_freshness_target_minutes);
  if (row.active_accounts === null) return { targetMinutes, freshness: null };
  return {
    targetMinutes,
    freshness: {
      freshAccounts: Number(row.fresh_accounts),
      activeAccounts: Number(row.active_accounts),
      freshShare: row.fresh_share === null ? null : Number(row.fresh_share),
      neverSynced: Number(row.never_synced),
      oldestCompleteSyncAt: iso(row.oldest_complete_sync_at),
      targetMinutes,
      minShare: Number(row.alert_freshness_min_share),
    },
  };
}
