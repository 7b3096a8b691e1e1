/**
 * `npm run status` as text: the freshness line, a header, the recent runs and the accounts that
 * need attention, as aligned tables (coloured on a terminal).
 */
import { type Palette, statusColor } from "../lib/colors.ts";
import { type Cell, renderTable } from "../lib/table.ts";
import { formatAge, formatClock, formatDuration } from "../lib/time.ts";
import type { AttentionRow, Issue, RunRow, StatusReport } from "./report.ts";

/** The attention table stops here; `--json` lists every account. */
export const MAX_ATTENTION_ROWS = 30;

const ISSUE_LABEL: Record<Issue, string> = {
  never_synced: "never synced",
  stale: "stale",
  failing: "failing",
  paused: "paused",
  rate_limited: "rate limited",
  token_missing: "no token",
  token_expired: "token expired",
  token_rejected: "token rejected",
  token_expiring_soon: "token expiring soon",
};

/** Only a person can fix these (a resume or a reconnect). */
const RED_ISSUES = new Set<Issue>([
  "paused",
  "token_missing",
  "token_expired",
  "token_rejected",
]);

/** The states whose view detail says more than the last error. */
const DETAILED_STATES = new Set(["paused", "token_rejected", "rate_limited"]);

const num = (value: number | null) => value === null ? "" : String(value);

function runType(jobType: string): string {
  return jobType.replace(/_sync$/, "");
}

export function renderStatus(report: StatusReport, p: Palette): string {
  const now = new Date(report.generatedAt);
  const out: string[] = [freshnessLine(report, now, p)];
  out.push(
    `${p.bold("Threads Sync")}  ${p.dim(`${report.database} · ${formatClock(now, now)}`)}`,
  );
  if (report.workspaceId) {
    out.push(`Workspace ${report.workspaceId}: its accounts, and the runs that synced any of them`);
  }
  if (report.schedule) {
    const state = report.schedule.active ? p.green("active") : p.yellow("paused");
    out.push(`Schedule: ${report.schedule.jobName} at "${report.schedule.schedule}" (${state})`);
  }
  out.push("", ...runsSection(report, now, p), "", ...attentionSection(report, now, p));
  return out.join("\n");
}

/**
 * The first line: how much of the data is young enough (the freshness objective), green when
 * the share meets the alert threshold.
 */
export function freshnessLine(report: StatusReport, now: Date, p: Palette): string {
  const f = report.freshness;
  if (!f || f.freshShare === null) return `Freshness: no active accounts`;
  const percent = (share: number) => `${Math.floor(share * 1000) / 10}%`;
  const share = percent(f.freshShare);
  const colored = f.freshShare >= f.minShare ? p.green(share) : p.red(share);
  const oldest = f.oldestCompleteSyncAt
    ? `oldest complete sync ${formatAge(new Date(f.oldestCompleteSyncAt), now)}`
    : "no complete sync yet";
  const never = f.neverSynced > 0 ? `, ${f.neverSynced} never synced` : "";
  return `Freshness: ${colored} fresh (${f.freshAccounts} of ${f.activeAccounts} active accounts ` +
    `synced within ${f.targetMinutes} min; objective ${percent(f.minShare)}) · ${oldest}${never}`;
}

function runsSection(report: StatusReport, now: Date, p: Palette): string[] {
  const out = [p.bold(`Recent runs (${report.runs.length})`)];
  if (report.runs.length === 0) {
    out.push(p.dim("  No runs yet: pg_cron starts one every 15 minutes, or run `npm run sync`."));
  } else {
    const rows: Cell[][] = report.runs.map((r) => [
      formatClock(new Date(r.startedAt), now),
      runType(r.jobType),
      r.trigger,
      { text: r.status, color: statusColor(p, r.status) },
      formatDuration(r.durationSeconds),
      num(r.accounts.total),
      num(r.accounts.ok),
      num(r.accounts.partial),
      { text: num(r.accounts.failed), color: r.accounts.failed ? p.red : undefined },
      num(r.accounts.skipped),
      num(r.apiCalls),
      r.id,
      runDetail(r),
    ]);
    out.push(renderTable(
      [
        { header: "STARTED" },
        { header: "TYPE" },
        { header: "TRIGGER" },
        { header: "STATUS" },
        { header: "DURATION", align: "right" },
        { header: "ACCOUNTS", align: "right" },
        { header: "OK", align: "right" },
        { header: "PARTIAL", align: "right" },
        { header: "FAILED", align: "right" },
        { header: "SKIPPED", align: "right" },
        { header: "API CALLS", align: "right" },
        { header: "RUN ID" },
        { header: "DETAIL", maxWidth: 70 },
      ],
      rows,
      { headerStyle: p.dim },
    ));
  }
  return out;
}

function attentionSection(report: StatusReport, now: Date, p: Palette): string[] {
  const { staleMinutes } = report.thresholds;
  const shown = report.attention.slice(0, MAX_ATTENTION_ROWS);
  const out = [
    `${p.bold(`Accounts that need attention (${report.attention.length})`)}  ${
      p.dim(
        `stale: no complete success in ${staleMinutes} min · states from account_sync_state, tokens from account_token_health`,
      )
    }`,
  ];
  if (report.attention.length === 0) {
    out.push(
      p.green(
        `  None: every active account${
          report.workspaceId ? " of the workspace" : ""
        } synced completely within the last ` +
          `${staleMinutes} minutes, with no failures and a valid token.`,
      ),
    );
  } else {
    out.push(renderTable(
      [
        { header: "WORKSPACE", maxWidth: 24 },
        { header: "ACCOUNT", maxWidth: 30 },
        { header: "ISSUE" },
        { header: "LAST SUCCESS" },
        { header: "FAILURES", align: "right" },
        { header: "TOKEN" },
        { header: "LAST ERROR", maxWidth: 70 },
      ],
      shown.map((a) => attentionRow(a, now, p)),
      { headerStyle: p.dim },
    ));
    if (report.attention.length > shown.length) {
      out.push(p.dim(`  … and ${report.attention.length - shown.length} more (--json lists all)`));
    }
  }
  return out;
}

/** The error of a run, or else what is worth knowing about it. */
function runDetail(r: RunRow): string {
  if (r.errorMessage) return `${r.errorCode ?? "error"}: ${r.errorMessage}`;
  const notes: string[] = [];
  if (r.status === "skipped" && r.skipReason === "lock_held") {
    notes.push(r.heldByRun ? `lock held by run ${r.heldByRun}` : "lock held by another run");
  } else if (r.status === "skipped" && r.skipReason) notes.push(r.skipReason);
  if (r.accounts.unfinished) notes.push(`${r.accounts.unfinished} accounts to go`);
  if (r.handoffs) notes.push(`${r.handoffs} hand-off(s)`);
  if (r.interruptions) notes.push(`resumed after ${r.interruptions} interruption(s)`);
  return notes.join(", ");
}

/** The token as account_token_health says it, with the days it has left. */
function tokenCell(token: AttentionRow["token"]): string {
  const days = token.daysUntilExpiry;
  const left = days === null ? "" : days < 1 ? "in < 1 d" : `in ${days} d`;
  switch (token.status) {
    case "ok":
      return left;
    case "expiring_soon":
      return `expiring soon: ${left}`;
    case "missing":
      return "none";
    default:
      return token.status;
  }
}

function errorCell(a: AttentionRow): string {
  if (DETAILED_STATES.has(a.state) && a.stateDetail) {
    return `${ISSUE_LABEL[a.state as Issue]}: ${a.stateDetail}`;
  }
  if (a.lastError) return `${a.lastError.code ?? a.lastError.step}: ${a.lastError.message ?? ""}`;
  const refresh = a.token.lastRefreshError;
  return refresh ? `token refresh ${refresh.code ?? "error"}: ${refresh.message ?? ""}` : "";
}

function attentionRow(a: AttentionRow, now: Date, p: Palette): Cell[] {
  const severe = a.issues.some((i) => RED_ISSUES.has(i)) || a.token.needsReconnect;
  return [
    a.workspaceName,
    `@${a.username}`,
    { text: a.issues.map((i) => ISSUE_LABEL[i]).join(", "), color: severe ? p.red : p.yellow },
    formatAge(a.lastSuccessAt ? new Date(a.lastSuccessAt) : null, now),
    { text: String(a.consecutiveFailures), color: a.consecutiveFailures ? p.red : undefined },
    { text: tokenCell(a.token), color: a.token.status === "ok" ? undefined : p.yellow },
    errorCell(a),
  ];
}
