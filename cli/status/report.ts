/**
 * What `npm run status` shows, read from the console views (sync_run_overview,
 * account_sync_health) in one read-only transaction: the recent runs and the active accounts
 * that need attention.
 *
 * An account needs attention when it is
 *   stale        no complete success for more than STALE_MINUTES (or never, once connected
 *                that long ago: a new account waits for its first run without alarm)
 *   failing      its last runs failed or partly failed (consecutive_failures > 0)
 *   token        its token expires within TOKEN_WARNING_DAYS, has expired, is missing, or was
 *                rejected by the API
 *   paused       the sync stopped trying it (when the schema tracks pauses)
 * With a workspace, only its accounts and the runs that synced any of them (a run's counts
 * stay the whole run's).
 * Columns newer than the console views (token rejection, pauses, rate-limit deferrals) are
 * looked up at run time, so the command reads any migrated version of the schema.
 */
import type postgres from "postgres";

/** Two missed 15-minute runs: one late run is not yet a problem, two are. */
export const STALE_MINUTES = 30;
/** A week's notice: the daily token refresh should have replaced the token well before. */
export const TOKEN_WARNING_DAYS = 7;

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

export type Issue =
  | "never_synced"
  | "stale"
  | "failing"
  | "failing_repeatedly"
  | "paused"
  | "rate_limited"
  | "token_missing"
  | "token_expired"
  | "token_rejected"
  | "token_expiring";

export interface AttentionRow {
  accountId: string;
  username: string;
  workspaceId: string;
  workspaceName: string;
  issues: Issue[];
  lastSuccessAt: string | null;
  minutesSinceLastSuccess: number | null;
  consecutiveFailures: number;
  lastError: { at: string; step: string; code: string | null; message: string | null } | null;
  token: {
    expiresAt: string | null;
    rejectedAt: string | null;
    rejectedReason: string | null;
  };
  pausedReason: string | null;
  rateLimitedUntil: string | null;
}

export interface StatusReport {
  generatedAt: string;
  database: string;
  /** Only this workspace's accounts, and the runs that synced any of them. */
  workspaceId: string | null;
  schedule: { jobName: string; schedule: string; active: boolean } | null;
  thresholds: { staleMinutes: number; tokenWarningDays: number };
  /** Which optional columns the schema has (older schemas lack them). */
  tracks: { tokenRejection: boolean; pauses: boolean; rateLimitDeferral: boolean };
  runs: RunRow[];
  attention: AttentionRow[];
}

const iso = (value: Date | null | undefined) => value ? value.toISOString() : null;

/** Most urgent first: what stops syncing for good, then what fails, then what only ages. */
const SEVERITY: Issue[] = [
  "token_rejected",
  "token_expired",
  "token_missing",
  "paused",
  "failing_repeatedly",
  "failing",
  "rate_limited",
  "stale",
  "never_synced",
  "token_expiring",
];

export async function readStatus(
  sql: postgres.Sql,
  options: { limit: number; database: string; workspaceId?: string | null },
): Promise<StatusReport> {
  const ws = options.workspaceId ?? null;
  return await sql.begin("read only", async (tx) => {
    const [{ now }] = await tx`select now() as now`;
    const columns = await tx`
      select table_name, column_name from information_schema.columns
      where table_schema = 'public'
        and ((table_name = 'workspace_threads_tokens' and column_name in ('rejected_at', 'rejected_reason'))
          or (table_name = 'workspace_threads_accounts'
            and column_name in ('sync_paused_at', 'sync_paused_reason', 'rate_limited_until')))`;
    const has = (table: string, column: string) =>
      columns.some((c) => c.table_name === table && c.column_name === column);
    const tracks = {
      tokenRejection: has("workspace_threads_tokens", "rejected_at") &&
        has("workspace_threads_tokens", "rejected_reason"),
      pauses: has("workspace_threads_accounts", "sync_paused_at") &&
        has("workspace_threads_accounts", "sync_paused_reason"),
      rateLimitDeferral: has("workspace_threads_accounts", "rate_limited_until"),
    };

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
      limit ${options.limit}`;

    const tokenColumns = tracks.tokenRejection
      ? tx`t.rejected_at, t.rejected_reason`
      : tx`null::timestamptz as rejected_at, null::text as rejected_reason`;
    const accountColumns = tx`${
      tracks.pauses
        ? tx`a.sync_paused_at, a.sync_paused_reason`
        : tx`null::timestamptz as sync_paused_at, null::text as sync_paused_reason`
    }, ${
      tracks.rateLimitDeferral
        ? tx`a.rate_limited_until`
        : tx`null::timestamptz as rate_limited_until`
    }`;
    const accounts = await tx`
      select h.account_id, h.username, h.workspace_id, h.workspace_name, h.last_success_at,
        h.minutes_since_last_success, h.consecutive_failures, h.last_error_at, h.last_error_step,
        h.last_error_code, h.last_error_message, a.created_at,
        t.id as token_id, t.expires_at as token_expires_at, t.rejected_at, t.rejected_reason,
        ${accountColumns}
      from public.account_sync_health h
      join public.workspace_threads_accounts a on a.id = h.account_id
      left join lateral (
        select t.id, t.expires_at, ${tokenColumns}
        from public.workspace_threads_tokens t
        where t.workspace_threads_account_id = h.account_id and t.is_primary
          and t.revoked_at is null
        order by t.created_at desc
        limit 1
      ) t on true
      where h.is_active and (${ws}::uuid is null or h.workspace_id = ${ws}::uuid)`;

    let schedule: StatusReport["schedule"] = null;
    try {
      // pg_cron's table; absent or unreadable on some projects, and then simply not shown.
      const [job] = await tx.savepoint((sp) =>
        sp`select jobname, schedule, active from cron.job where jobname = 'scheduled-sync'`
      );
      if (job) schedule = { jobName: job.jobname, schedule: job.schedule, active: job.active };
    } catch { /* no pg_cron here */ }

    const nowMs = (now as Date).getTime();
    const attention: AttentionRow[] = [];
    for (const a of accounts) {
      const issues: Issue[] = [];
      const minutes = a.minutes_since_last_success as number | null;
      if (a.last_success_at === null) {
        if (nowMs - (a.created_at as Date).getTime() > STALE_MINUTES * 60_000) {
          issues.push("never_synced");
        }
      } else if (minutes !== null && minutes > STALE_MINUTES) {
        issues.push("stale");
      }
      const failures = Number(a.consecutive_failures ?? 0);
      if (failures >= 3) issues.push("failing_repeatedly");
      else if (failures > 0) issues.push("failing");
      if (a.sync_paused_at) issues.push("paused");
      if (a.rate_limited_until && (a.rate_limited_until as Date).getTime() > nowMs) {
        issues.push("rate_limited");
      }
      if (!a.token_id) issues.push("token_missing");
      else if (a.rejected_at) issues.push("token_rejected");
      else if ((a.token_expires_at as Date).getTime() <= nowMs) issues.push("token_expired");
      else if (
        (a.token_expires_at as Date).getTime() <= nowMs + TOKEN_WARNING_DAYS * 86_400_000
      ) issues.push("token_expiring");
      if (issues.length === 0) continue;
      issues.sort((x, y) => SEVERITY.indexOf(x) - SEVERITY.indexOf(y));
      // The last error only matters when it came after the last success.
      const errorIsCurrent = a.last_error_at &&
        (!a.last_success_at || (a.last_error_at as Date) > (a.last_success_at as Date));
      attention.push({
        accountId: a.account_id,
        username: a.username,
        workspaceId: a.workspace_id,
        workspaceName: a.workspace_name,
        issues,
        lastSuccessAt: iso(a.last_success_at),
        minutesSinceLastSuccess: minutes,
        consecutiveFailures: failures,
        lastError: errorIsCurrent
          ? {
            at: iso(a.last_error_at)!,
            step: a.last_error_step,
            code: a.last_error_code,
            message: a.last_error_message,
          }
          : null,
        token: {
          expiresAt: iso(a.token_expires_at),
          rejectedAt: iso(a.rejected_at),
          rejectedReason: a.rejected_reason,
        },
        pausedReason: a.sync_paused_reason,
        rateLimitedUntil: iso(a.rate_limited_until),
      });
    }
    attention.sort((x, y) =>
      SEVERITY.indexOf(x.issues[0]) - SEVERITY.indexOf(y.issues[0]) ||
      (y.minutesSinceLastSuccess ?? Infinity) - (x.minutesSinceLastSuccess ?? Infinity) ||
      x.workspaceName.localeCompare(y.workspaceName) || x.username.localeCompare(y.username)
    );

    return {
      generatedAt: (now as Date).toISOString(),
      database: options.database,
      workspaceId: ws,
      schedule,
      thresholds: { staleMinutes: STALE_MINUTES, tokenWarningDays: TOKEN_WARNING_DAYS },
      tracks,
      runs: runs.map((r): RunRow => ({
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
      })),
      attention,
    };
  });
}
