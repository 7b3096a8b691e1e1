/**
 * The two designs the sync-throughput benchmark measures, each run once over a workspace:
 * (a) the seed design in a process of its own, (b) the real scheduled-sync function on a
 * functions host, followed in the database until its run ends.
 */
import type postgres from "postgres";
import type { startFunctionsHost } from "../../../local-stack/functions-host/host.ts";
import type { BaselineOptions, BaselineResult } from "../sync-baseline.ts";
import { invocationFigures, NO_INVOCATIONS } from "../invocation-figures.ts";
import { BASELINE_SCRIPT, MAX_RPS, RUN_TIMEOUT_MS, type RunOutcome } from "./workload.ts";

/** (a) The seed design, in its own process (bench/lib/sync-baseline.ts). */
export async function runSeedDesign(
  workspaceId: string,
  dbUrl: string,
  threadsApiBaseUrl: string,
  tokenKey: string,
  logs: string[],
): Promise<RunOutcome> {
  const options: BaselineOptions = { dbUrl, workspaceId, threadsApiBaseUrl, maxRps: MAX_RPS };
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", BASELINE_SCRIPT, JSON.stringify(options)],
    env: { TOKEN_ENCRYPTION_KEY: tokenKey },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const endedAt = performance.now();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  logs.push(`[seed design] ${stdout}`, new TextDecoder().decode(output.stderr));
  if (!output.success) {
    throw new Error(`Cannot measure the seed design as its process failed: see the bench log`);
  }
  const result = JSON.parse(stdout.split("\n").at(-1)!) as BaselineResult;
  return {
    endedAt,
    accountsOk: result.completed,
    peakRssMb: result.peakRssMb,
    invocations: NO_INVOCATIONS,
    detail: {
      batches: result.batches,
      pausedMs: result.pausedMs,
      innerWallMs: result.wallMs,
      failed: result.failed,
      errors: result.errors,
    },
  };
}

/**
 * (b) The real scheduled-sync function: one manual run of the workspace, followed in the
 * database until it ends, however many invocations (hand-offs, side by side) it takes.
 */
export async function runProduct(
  host: ReturnType<typeof startFunctionsHost>,
  sql: postgres.Sql,
  workspaceId: string,
  cronSecret: string,
  logs: string[],
): Promise<RunOutcome> {
  const firstLine = logs.length;
  const runId = await startRun(host.url, workspaceId, cronSecret);
  const endedAt = await runEnd(sql, runId);
  // The host logs each invocation's CPU and peak memory once its process has exited.
  for (let i = 0; i < 300 && host.activeInvocations() > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const invocations = invocationFigures(logs.slice(firstLine));
  const { run, progress, sideBySide } = await runRecord(sql, runId);
  const m = run.metadata ?? {};
  return {
    endedAt,
    accountsOk: progress.completed,
    peakRssMb: invocations.maxPeakRssMb,
    invocations,
    detail: {
      status: run.status,
      invocations: run.invocations,
      handoffs: m.handoffs ?? 0,
      sideBySide,
      progress,
      apiCallsReported: m.api_calls,
      limiterWaitMs: m.api_limiter_wait_ms,
      rateLimitErrors: m.api_rate_limit_errors,
      stepMs: {
        posts: m.sync_posts_ms,
        metrics: m.sync_metrics_ms,
        accountInsights: m.sync_account_insights_ms,
      },
    },
  };
}

/** POSTs {"workspaceId"} to scheduled-sync as a person does; returns the run's id. */
async function startRun(functionsUrl: string, workspaceId: string, cronSecret: string) {
  const response = await fetch(`${functionsUrl}/scheduled-sync`, {
    method: "POST",
    headers: { Authorization: `Bearer ${cronSecret}`, "content-type": "application/json" },
    body: JSON.stringify({ workspaceId }),
  });
  const body = await response.json();
  if (![200, 202].includes(response.status) || !body.runId) {
    throw new Error(
      `Cannot measure the product as scheduled-sync answered ${response.status}: ${
        JSON.stringify(body)
      }`,
    );
  }
  return body.runId as string;
}

/** Polls the run's row every 100 ms; returns performance.now() when it was seen ended. */
async function runEnd(sql: postgres.Sql, runId: string): Promise<number> {
  for (const begun = performance.now();; await new Promise((r) => setTimeout(r, 100))) {
    const [run] = await sql`select status from public.system_job_logs where id = ${runId}`;
    const now = performance.now();
    if (run.status !== "running") return now;
    if (now - begun > RUN_TIMEOUT_MS) throw new Error(`run ${runId} did not finish`);
  }
}

/** The ended run's row, its progress, and the most invocations that worked it at once. */
async function runRecord(sql: postgres.Sql, runId: string) {
  const [run] = await sql`select status, invocations, metadata from public.system_job_logs
    where id = ${runId}`;
  const [progress] = await sql`select * from public.run_progress(${runId})`;
  // The most invocations at work at once: +1 when one joined, -1 when it left (or was last seen).
  const [{ side_by_side }] = await sql`select coalesce(max(n), 0)::int as side_by_side from (
      select sum(d) over (order by t, d) as n from (
        select started_at as t, 1 as d from public.sync_run_invocations
        where run_id = ${runId} and worker not like 'queued:%'
        union all
        select coalesce(ended_at, seen_at), -1 from public.sync_run_invocations
        where run_id = ${runId} and worker not like 'queued:%') e) c`;
  return { run, progress, sideBySide: side_by_side as number };
}

/** What the run wrote for the workspace: posts and metric snapshots. */
export async function writtenRows(sql: postgres.Sql, workspaceId: string) {
  const [row] = await sql<{ posts: number; snapshots: number }[]>`
    select count(distinct p.id)::int as posts, count(m.id)::int as snapshots
    from public.workspace_threads_accounts a
    join public.workspace_threads_posts p on p.workspace_threads_account_id = a.id
    left join public.workspace_threads_post_metrics m on m.workspace_threads_post_id = p.id
    where a.workspace_id = ${workspaceId}`;
  return row;
}
