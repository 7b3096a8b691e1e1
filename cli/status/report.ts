/**
 * What `npm run status` shows, read from the console views in one read-only transaction: the
 * freshness objective (sync_freshness), the recent runs (sync_run_overview) and the active
 * accounts that need attention.
 *
 * An account's health is the database's, not this command's: its sync state and detail are
 * account_sync_state's (never_synced, rate_limited, token_rejected, failing, paused), its
 * token's status account_token_health's (expiring_soon, expired, rejected, missing), and it
 * is stale when it is not fresh by the freshness objective (no complete sync within
 * monitoring_settings.sync_freshness_target_minutes, as sync_freshness counts). An account
 * needs attention when its state is not healthy, its token not ok, or it is stale.
 * With a workspace, only its accounts and the runs that synced any of them (a run's counts
 * stay the whole run's).
 */
import type postgres from "postgres";
import { type Freshness, readFreshness } from "./freshness.ts";

export interface RunRow {
  id: string;
  jobType: string;
  trigger: string;
  status: string;
  startedAt: string;
  completedAt: string | null;
  durationSeconds: number | null;
  accounts: {
    total: number | null;
    ok: number | null;
    partial: number | null;
    failed: number | null;
    skipped: number | null;
    unfinished: number | null;
  };
  apiCalls: number | null;
  invocations: number;
  errorCode: string | null;
  errorMessage: string | null;
  /** Why a skipped run was skipped (e.g. lock_held) and the run that held the lock. */
  skipReason: string | null;
  heldByRun: string | null;
  /** Hand-offs to a fresh invocation, and resumptions after its worker died (metadata). */
  handoffs: number;
  interruptions: number;
}

/** account_sync_state.state. */
export type SyncState =
  | "healthy"
  | "never_synced"
  | "rate_limited"
  | "token_rejected"
  | "failing"
  | "paused"
  | "inactive";

/** account_token_health.token_status. */
export type TokenStatus = "ok" | "expiring_soon" | "expired" | "rejected" | "missing";

/** What needs attention: the views' states and token statuses that are not fine, and staleness. */
export type Issue =
  | Exclude<SyncState, "healthy" | "inactive">
  | "token_expiring_soon"
  | "token_expired"
  | "token_missing"
  | "stale";

export interface AttentionRow {
  accountId: string;
  username: string;
  workspaceId: string;
  workspaceName: string;
  /** Most urgent first. */
  issues: Issue[];
  /** account_sync_state.state and .detail. */
  state: SyncState;
  stateDetail: string | null;
  lastSuccessAt: string | null;
  minutesSinceLastSuccess: number | null;
  consecutiveFailures: number;
  /** The last sync error, when it came after the last success. */
  lastError: { at: string; step: string; code: string | null; message: string | null } | null;
  /** account_token_health's columns. */
  token: {
    status: TokenStatus;
    needsReconnect: boolean;
    expiresAt: string | null;
    daysUntilExpiry: number | null;
    rejectedReason: string | null;
    lastRefreshError: { at: string; code: string | null; message: string | null } | null;
  };
}

export interface StatusReport {
  generatedAt: string;
  freshness: Freshness | null;
  database: string;
  /** Only this workspace's accounts, and the runs that synced any of them. */
  workspaceId: string | null;
  schedule: { jobName: string; schedule: string; active: boolean } | null;
  thresholds: { staleMinutes: number };
  runs: RunRow[];
  attention: AttentionRow[];
}

type Tx = postgres.TransactionSql;

const iso = (value: Date | null | undefined) => value ? value.toISOString() : null;

/** Most urgent first: what stops syncing for good, then what fails, then what only ages. */
const SEVERITY: Issue[] = [
  "token_rejected",
  "token_expired",
  "token_missing",
  "paused",
  "failing",
  "rate_limited",
  "stale",
  "never_synced",
  "token_expiring_soon",
];

export async function readStatus(
  sql: postgres.Sql,
  options: { limit: number; database: string; workspaceId?: string | null },
): Promise<StatusReport> {
  const ws = options.workspaceId ?? null;
  return await sql.begin("read only", async (tx) => {
    const [{ now }] = await tx`select now() as now`;
    const { targetMinutes: staleMinutes, freshness } = await readFreshness(tx, ws);
    return {
      generatedAt: (now as Date).toISOString(),
      freshness,
      database: options.database,
      workspaceId: ws,
      schedule: await readSchedule(tx),
      thresholds: { staleMinutes },
      runs: await readRuns(tx, options.limit, ws),
      attention: await readAttention(tx, ws, staleMinutes),
    };
  });
}

/** pg_cron's job; absent or unreadable on some projects, and then simply not shown. */
async function readSchedule(tx: Tx): Promise<StatusReport["schedule"]> {
  try {
    const [job] = await tx.savepoint((sp) =>
      sp`select jobname, schedule, active from cron.job where jobname = 'scheduled-sync'`
    );
    return job ? { jobName: job.jobname, schedule: job.schedule, active: job.active } : null;
  } catch {
    return null;
  }
}

async function readRuns(tx: Tx, limit: number, ws: string | null): Promise<RunRow[]> {
  const runs = await tx`
    select o.id, o.job_type, o.trigger, o.status, o.started_at, o.completed_at,
      extract(epoch from o.duration)::float8 as duration_s,
      o.accounts_total::int as total, o.accounts_ok::int as ok,
      o.accounts_partial::int as partial, o.accounts_failed::int as failed,
      o.accounts_skipped::int as skipped, o.accounts_unfinished::int as unfinished,
      o.api_calls::float8 as api_calls, o.invocations, o.error_code, o.error_message,
      j.metadata ->> 'reason' as skip_reason, j.metadata ->> 'held_by_run' as held_by_run,
      case when jsonb_typeof(j.metadata -> 'handoffs') = 'number'
        then (j.metadata ->> 'handoffs')::int else 0 end as handoffs,
      case when jsonb_typeof(j.metadata -> 'interruptions') = 'number'
        then (j.metadata ->> 'interruptions')::int else 0 end as interruptions
    from public.sync_run_overview o
    join public.system_job_logs j on j.id = o.id
    where ${ws}::uuid is null
      or j.metadata -> 'request' ->> 'workspaceId' = ${ws}::text
      or exists (
        select from public.sync_run_accounts ra
        join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
        where ra.run_id = o.id and a.workspace_id = ${ws}::uuid)
    order by o.started_at desc
    limit ${limit}`;
  return runs.map((r): RunRow => ({
    id: r.id,
    jobType: r.job_type,
    trigger: r.trigger,
    status: r.status,
    startedAt: iso(r.started_at)!,
    completedAt: iso(r.completed_at),
    durationSeconds: r.duration_s,
    accounts: {
      total: r.total,
      ok: r.ok,
      partial: r.partial,
      failed: r.failed,
      skipped: r.skipped,
      unfinished: r.unfinished,
    },
    apiCalls: r.api_calls,
    invocations: r.invocations,
    errorCode: r.error_code,
    errorMessage: r.error_message,
    skipReason: r.skip_reason,
    heldByRun: r.held_by_run,
    handoffs: r.handoffs,
    interruptions: r.interruptions,
  }));
}

/** The active accounts whose state is not healthy, whose token is not ok, or that are stale. */
async function readAttention(
  tx: Tx,
  ws: string | null,
  staleMinutes: number,
): Promise<AttentionRow[]> {
  const accounts = await tx`
    select s.account_id, s.username, t.workspace_id, s.workspace_name, s.state, s.detail,
      s.consecutive_failures, s.last_success_at, s.minutes_since_last_success,
      s.last_success_at <= now() - make_interval(mins => ${staleMinutes}) as stale,
      h.last_error_at, h.last_error_step, h.last_error_code, h.last_error_message,
      t.token_status, t.needs_reconnect, t.expires_at, t.days_until_expiry, t.rejected_reason,
      t.last_refresh_error_at, t.last_refresh_error_code, t.last_refresh_error_message
    from public.account_sync_state s
    join public.account_sync_health h on h.account_id = s.account_id
    join public.account_token_health t on t.account_id = s.account_id
    where s.state <> 'inactive'
      and (s.state <> 'healthy' or t.token_status <> 'ok'
        or s.last_success_at <= now() - make_interval(mins => ${staleMinutes}))
      and (${ws}::uuid is null or t.workspace_id = ${ws}::uuid)`;
  const rows = accounts.map(attentionRow);
  return rows.sort((x, y) =>
    SEVERITY.indexOf(x.issues[0]) - SEVERITY.indexOf(y.issues[0]) ||
    (y.minutesSinceLastSuccess ?? Infinity) - (x.minutesSinceLastSuccess ?? Infinity) ||
    x.workspaceName.localeCompare(y.workspaceName) || x.username.localeCompare(y.username)
  );
}

/** One row of the views, as the report shows it. */
function attentionRow(a: postgres.Row): AttentionRow {
  const state = a.state as SyncState;
  const tokenStatus = a.token_status as TokenStatus;
  const issues = new Set<Issue>();
  if (state !== "healthy" && state !== "inactive") issues.add(state);
  // "rejected" is both a state and a token status: one issue.
  if (tokenStatus !== "ok") {
    issues.add(tokenStatus === "rejected" ? "token_rejected" : `token_${tokenStatus}`);
  }
  if (a.stale) issues.add("stale");
  // The last error only matters when it came after the last success.
  const errorIsCurrent = a.last_error_at &&
    (!a.last_success_at || (a.last_error_at as Date) > (a.last_success_at as Date));
  return {
    accountId: a.account_id,
    username: a.username,
    workspaceId: a.workspace_id,
    workspaceName: a.workspace_name,
    issues: [...issues].sort((x, y) => SEVERITY.indexOf(x) - SEVERITY.indexOf(y)),
    state,
    stateDetail: a.detail,
    lastSuccessAt: iso(a.last_success_at),
    minutesSinceLastSuccess: a.minutes_since_last_success,
    consecutiveFailures: Number(a.consecutive_failures ?? 0),
    lastError: errorIsCurrent
      ? {
        at: iso(a.last_error_at)!,
        step: a.last_error_step,
        code: a.last_error_code,
        message: a.last_error_message,
      }
      : null,
    token: {
      status: tokenStatus,
      needsReconnect: a.needs_reconnect,
      expiresAt: iso(a.expires_at),
      daysUntilExpiry: a.days_until_expiry,
      rejectedReason: a.rejected_reason,
      lastRefreshError: a.last_refresh_error_at
        ? {
          at: iso(a.last_refresh_error_at)!,
          code: a.last_refresh_error_code,
          message: a.last_refresh_error_message,
        }
        : null,
    },
  };
}
