// One run, several invocations side by side: each claims accounts with the run's leases, the
// run finishes exactly once whichever invocation ends its last account, and an invocation
// killed mid-run loses nothing: the others go on and take its accounts when their leases expire.
import { assert, assertEquals } from "../helpers/assert.ts";
import { eventually, testDb } from "../helpers/stack.ts";
import { addFault, removeFaults, simulator, simulatorStats } from "../helpers/simulator.ts";
import { runEnded } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import { postSync, withOwnHost } from "../helpers/own-host.ts";
import type postgres from "postgres";

/** Each account's steps completed exactly once in the run. */
async function assertEachAccountOnce(sql: postgres.Sql, runId: string, accounts: number) {
  const steps = await sql`select workspace_threads_account_id as id, job_type,
      count(*) filter (where status = 'completed')::int as completed
    from public.sync_logs where run_id = ${runId} group by 1, 2`;
  assertEquals(steps.length, accounts * 3);
  const twice = steps.filter((s) => s.completed !== 1);
  assertEquals(twice.length, 0, `steps not completed exactly once: ${JSON.stringify(twice)}`);
}

/** Latency on every account, so the work outlasts one invocation's budget. */
async function slowAccounts(ids: string[], ms: number) {
  return await Promise.all(
    ids.map((id) => addFault({ kind: "latency", ms, userId: id })),
  );
}

Deno.test({
  name:
    "several invocations work one run side by side: each account once, one log row, finished once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(80, 3);
    const rules = await slowAccounts(ws.accounts.map((a) => a.id), 40);
    // The strict API at the test stack's told limit (THREADS_API_MAX_RPS=100).
    rules.push(
      await addFault({ kind: "app_rate_limit", rps: 100 }),
    );
    await simulator("/stats/reset", { method: "POST" });
    try {
      await withOwnHost(sql, {
        wallClockLimitMs: 30_000,
        env: { SYNC_MAX_INVOCATIONS: "4", SYNC_TIME_BUDGET_MS: "4000" },
      }, async (url) => {
        const started = await postSync(url, { workspaceId: ws.workspaceId });
        assertEquals(started.status, 202, JSON.stringify(started.body));
        const runId = started.body.runId;
        assertEquals(await runEnded(sql, runId), "completed");
        const invocations = await sql`select worker, started_at, coalesce(ended_at, seen_at) as last
          from public.sync_run_invocations where run_id = ${runId} and worker not like 'queued:%'
          order by started_at`;
        assert(invocations.length >= 2, `invocations: ${invocations.length}`);
        // At least two of them were at work at the same time.
        const overlapping = invocations.some((a, i) =>
          invocations.slice(i + 1).some((b) => b.started_at < a.last)
        );
        assert(overlapping, `side by side: ${JSON.stringify(invocations)}`);
        await assertEachAccountOnce(sql, runId, 80);
        const [run] = await sql`select status, completed_at, metadata from public.system_job_logs
          where id = ${runId}`;
        assertEquals([run.status, run.metadata.success_count], ["completed", 80]);
        const [{ rows }] = await sql`select count(*)::int as rows from public.system_job_logs
          where job_type = 'manual_sync' and metadata -> 'request' ->> 'workspaceId' = ${ws.workspaceId}`;
        assertEquals(rows, 1, "one system_job_logs row for the run");
        // Together the invocations never sent more than the limit in any sliding second.
        const stats = await simulatorStats();
        assert(stats.maxAdmittedInAnyWindow <= 100, `max in 1 s: ${stats.maxAdmittedInAnyWindow}`);
        assertEquals(stats.rateLimited, 0, "no rate-limit answer");
      });
    } finally {
      await removeFaults(...rules);
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "one of several invocations killed mid-run: nothing lost, no duplicate snapshot, the run completes by itself",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(120, 3);
    const rules = await slowAccounts(ws.accounts.map((a) => a.id), 100);
    try {
      await withOwnHost(sql, {
        wallClockLimitMs: 30_000,
        env: { SYNC_MAX_INVOCATIONS: "3", SYNC_TIME_BUDGET_MS: "3000", SYNC_LOCK_TTL_MINUTES: "1" },
      }, async (url, logs) => {
        const started = await postSync(url, { workspaceId: ws.workspaceId });
        const runId = started.body.runId;
        // Once several invocations are at work, the platform kills the oldest (SIGKILL: no
        // chance to hand off or release anything).
        await eventually("two invocations at work", async () => {
          const [{ n }] = await sql`select count(*)::int as n from public.sync_run_invocations
            where run_id = ${runId} and worker not like 'queued:%' and ended_at is null`;
          return n >= 2 ? true : undefined;
        }, 20_000);
        // The host runs in this process: its invocations are our child processes.
        const pgrep = await new Deno.Command("pgrep", {
          args: ["-o", "-P", String(Deno.pid), "-f", "invocation.ts .*scheduled-sync"],
          stdout: "piped",
        }).output();
        const pid = Number(new TextDecoder().decode(pgrep.stdout).trim());
        assert(pid > 0, "an invocation process to kill");
        Deno.kill(pid, "SIGKILL");
        // Its accounts' leases expire within a minute (SYNC_LOCK_TTL_MINUTES=1) ...
        // ... and the other invocations finish the run: no trigger, no operator.
        const status = await runEnded(sql, runId, 150_000);
        assertEquals(status, "completed", logs.filter((l) => l.includes("error")).join("\n"));
        const [{ unfinished }] = await sql`select count(*)::int as unfinished
          from public.sync_run_accounts where run_id = ${runId} and status <> 'completed'`;
        assertEquals(unfinished, 0, "nothing lost");
        // The killed invocation never left (the others do), and what it held was taken again
        // once its leases expired.
        await eventually("every invocation but the killed one to leave", async () => {
          const [{ vanished }] = await sql`select count(*)::int as vanished
            from public.sync_run_invocations where run_id = ${runId}
              and worker not like 'queued:%' and ended_at is null`;
          return vanished === 1 ? true : undefined;
        }, 30_000);
        const [{ retaken }] = await sql`select count(*)::int as retaken
          from public.sync_run_accounts where run_id = ${runId} and attempts >= 2`;
        assert(retaken >= 1, "the killed invocation's accounts were claimed again");
        const [{ dupes }] = await sql`select count(*)::int as dupes from (
            select m.workspace_threads_post_id, m.captured_at
            from public.workspace_threads_post_metrics m
            join public.workspace_threads_posts p on p.id = m.workspace_threads_post_id
            join public.workspace_threads_accounts a on a.id = p.workspace_threads_account_id
            where a.workspace_id = ${ws.workspaceId}
            group by 1, 2 having count(*) > 1) d`;
        assertEquals(dupes, 0, "no duplicate snapshot");
      });
    } finally {
      await removeFaults(...rules);
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "200 accounts under a small CPU limit complete from one trigger: every invocation hands off in time",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(200, 3);
    try {
      // A third of the hosted CPU limit, and a budget to match: many short invocations.
      await withOwnHost(sql, {
        wallClockLimitMs: 60_000,
        cpuLimitMs: 900,
        env: { SYNC_CPU_BUDGET_MS: "300" },
      }, async (url, logs) => {
        const started = await postSync(url, { workspaceId: ws.workspaceId });
        assertEquals(started.status, 202, JSON.stringify(started.body));
        assertEquals(await runEnded(sql, started.body.runId, 240_000), "completed");
        const killed = logs.filter((l) => /shutdown reason=(CPUTime|Memory|WallClockTime)/.test(l));
        assertEquals(killed, [], "no invocation killed");
        const ended = logs.filter((l) => l.includes("shutdown reason=")).length;
        assert(ended >= 3, `several invocations: ${ended}`);
        await assertEachAccountOnce(sql, started.body.runId, 200);
      });
    } finally {
      await sql.end();
    }
  },
});
