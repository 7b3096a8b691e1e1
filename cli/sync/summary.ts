/**
 * What `npm run sync` prints at the end: the run's outcome and a table per account (from
 * the database), the counts the function answered (without a database), or what a dry run
 * would change.
 */
import type postgres from "postgres";
import { type Palette, statusColor } from "../lib/colors.ts";
import { type Cell, renderTable } from "../lib/table.ts";
import { formatDuration } from "../lib/time.ts";

/** The account table stops here; the SQL printed below it lists the rest. */
export const MAX_ACCOUNT_ROWS = 50;

export async function renderRunSummary(
  sql: postgres.Sql,
  runId: string,
  p: Palette,
): Promise<string> {
  const [run] = await sql`
    select status, extract(epoch from duration)::float8 as duration_s,
      accounts_total::int as total, accounts_ok::int as ok, accounts_partial::int as partial,
      accounts_failed::int as failed, accounts_skipped::int as skipped,
      api_calls::float8 as api_calls, invocations, error_code, error_message
    from public.sync_run_overview where id = ${runId}`;
  const accounts = await sql`
    select a.username, w.name as workspace, ra.status, ra.attempts, ra.last_error_code,
      ra.last_error_message
    from public.sync_run_accounts ra
    join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
    join public.workspaces w on w.id = a.workspace_id
    where ra.run_id = ${runId}
    order by case ra.status when 'failed' then 0 when 'partial' then 1 when 'skipped' then 2
      when 'completed' then 4 else 3 end, w.name, a.username`;
  const out: string[] = [];
  const color = statusColor(p, run.status);
  out.push(
    `${p.bold(`Run ${runId}`)} ${color(run.status)} in ${formatDuration(run.duration_s)}: ` +
      `${run.ok ?? 0}/${run.total ?? 0} accounts synced (${run.partial ?? 0} partial, ` +
      `${run.failed ?? 0} failed, ${run.skipped ?? 0} skipped), ${run.api_calls ?? 0} API calls` +
      (run.invocations > 1 ? `, ${run.invocations} invocations` : ""),
  );
  if (run.error_message) out.push(p.red(`  ${run.error_code}: ${run.error_message}`));
  if (accounts.length === 0) {
    out.push(p.dim("  No account was eligible (active, with a usable token) for this run."));
    return out.join("\n");
  }
  const rows: Cell[][] = accounts.slice(0, MAX_ACCOUNT_ROWS).map((a) => {
    const unsuccessful = a.status !== "completed";
    return [
      `@${a.username}`,
      a.workspace,
      { text: a.status, color: statusColor(p, a.status) },
      a.attempts > 1 ? String(a.attempts) : "",
      unsuccessful ? a.last_error_code ?? "" : "",
      unsuccessful ? a.last_error_message ?? "" : "",
    ];
  });
  out.push(renderTable(
    [
      { header: "ACCOUNT", maxWidth: 30 },
      { header: "WORKSPACE", maxWidth: 24 },
      { header: "STATUS" },
      { header: "ATTEMPTS", align: "right" },
      { header: "ERROR" },
      { header: "MESSAGE", maxWidth: 80 },
    ],
    rows,
    { headerStyle: p.dim, hideEmptyColumns: true },
  ));
  if (accounts.length > MAX_ACCOUNT_ROWS) {
    out.push(p.dim(
      `  … and ${accounts.length - MAX_ACCOUNT_ROWS} more: ` +
        `select * from sync_run_accounts where run_id = '${runId}';`,
    ));
  }
  return out.join("\n");
}

/** The function's own summary (a `wait: true` answer), when no database can be read. */
// deno-lint-ignore no-explicit-any
export function renderReplySummary(reply: any, p: Palette): string {
  const a = reply.accounts ?? {};
  const out = [
    `${p.bold(`Run ${reply.runId}`)} ${statusColor(p, reply.status)(reply.status)}: ` +
    `${a.completed ?? 0}/${a.total ?? 0} accounts synced (${a.partial ?? 0} partial, ` +
    `${a.failed ?? 0} failed, ${a.skipped ?? 0} skipped), ` +
    `${reply.invocation?.apiCalls ?? 0} API calls in ` +
    formatDuration((reply.invocation?.durationMs ?? 0) / 1000),
  ];
  if (reply.error) out.push(p.red(`  ${reply.error.code}: ${reply.error.message}`));
  return out.join("\n");
}

interface DryRunStep {
  status?: string;
  fetched?: number;
  would_insert?: number;
  due?: number;
  would_change?: number | string[];
  gone?: number;
  error?: { code?: string; message?: string };
}

/** A dry run's answer: per account, what a real sync would write. */
// deno-lint-ignore no-explicit-any
export function renderDryRun(reply: any, p: Palette): string {
  const accounts: {
    username: string;
    steps: Record<string, DryRunStep>;
    error?: { code?: string };
  }[] = reply.accounts ?? [];
  const out = [
    `${p.bold("Dry run")}: no synced data was written. ${accounts.length} account(s), ` +
    `${reply.apiCalls ?? 0} API calls, ${formatDuration((reply.durationMs ?? 0) / 1000)}.`,
  ];
  const left = reply.notAttempted?.length ?? 0;
  if (left > 0) {
    out.push(p.yellow(`  ${left} more account(s) not attempted: the time budget was spent.`));
  }
  if (accounts.length === 0) {
    out.push(p.dim("  No account is eligible (active, with a usable token)."));
    return out.join("\n");
  }
  const failure = (steps: Record<string, DryRunStep>) =>
    Object.entries(steps).filter(([, s]) => s.status === "failed")
      .map(([name, s]) => `${name}: ${s.error?.code ?? "failed"}`).join("; ");
  const rows: Cell[][] = accounts.map((a) => {
    const posts = a.steps.sync_posts ?? {};
    const metrics = a.steps.sync_metrics ?? {};
    const insights = a.steps.sync_account_insights ?? {};
    const changed = insights.would_change;
    // An account stopped before its steps (unreadable token, spent budget) says why itself.
    const problem = failure(a.steps) || (a.error?.code ?? "");
    return [
      `@${a.username}`,
      posts.status === "failed" ? "-" : `${posts.would_insert ?? 0} of ${posts.fetched ?? 0}`,
      metrics.status === "failed"
        ? "-"
        : `${typeof metrics.would_change === "number" ? metrics.would_change : 0} of ${
          metrics.due ?? 0
        }`,
      insights.status === "failed"
        ? "-"
        : Array.isArray(changed)
        ? (changed.length === 0 ? "none" : changed.length >= 7 ? "all" : changed.join(", "))
        : "",
      { text: problem, color: problem ? p.red : undefined },
    ];
  });
  out.push(renderTable(
    [
      { header: "ACCOUNT", maxWidth: 30 },
      { header: "NEW POSTS" },
      { header: "METRICS CHANGED" },
      { header: "INSIGHTS CHANGED", maxWidth: 50 },
      { header: "FAILED STEPS", maxWidth: 60 },
    ],
    rows,
    { headerStyle: p.dim, hideEmptyColumns: true },
  ));
  return out.join("\n");
}
