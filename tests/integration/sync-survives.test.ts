// A run outlives its invocations: with a time budget far below the work, the run hands off
// through pg_net to fresh invocations until done, each account synced exactly once; a run
// whose worker is killed mid-way by the wall-clock limit is found by the next trigger and
// finished without redoing its finished accounts. The test runs its own functions host (with
// the stack's database, secrets and simulator) and points Vault's project_url at it, so
// hand-offs reach it exactly as they reach the platform.
import { assert, assertEquals } from "../helpers/assert.ts";
import { eventually, testDb } from "../helpers/stack.ts";
import { removeFaults, slowDown } from "../helpers/simulator.ts";
import { runEnded } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import type postgres from "postgres";
import { postSync, withOwnHost } from "../helpers/own-host.ts";

Deno.test({
  name: "200 accounts with a tiny time budget finish through hand-offs, each account once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(200, 4);
    const rules: { id: string }[] = [];
    try {
      await withOwnHost(sql, {
        wallClockLimitMs: 10_000,
        env: { SYNC_TIME_BUDGET_MS: "1500", THREADS_API_MAX_RPS: "150" },
      }, async (url, logs) => {
        const started = await postSync(url, { workspaceId: ws.workspaceId });
        assertEquals(started.status, 202, JSON.stringify(started.body));
        const runId = started.body.runId;
        assertEquals(await runEnded(sql, runId, 180_000), "completed");
        const [run] = await sql`select invocations, metadata from public.system_job_logs
          where id = ${runId}`;
        assert(run.metadata.handoffs >= 1, `handoffs: ${run.metadata.handoffs}`);
        assert(run.invocations >= 2, `invocations: ${run.invocations}`);
        const accounts = await sql`select status, attempts from public.sync_run_accounts
          where run_id = ${runId}`;
        assertEquals(accounts.length, 200);
        assert(accounts.every((a) => a.status === "completed" && a.attempts === 1));
        const [{ steps, distinct }] = await sql`select count(*)::int as steps,
            count(distinct (workspace_threads_account_id, job_type))::int as distinct
          from public.sync_logs where run_id = ${runId}`;
        assertEquals([steps, distinct], [600, 600], "three steps per account, none twice");
        assert(
          !logs.some((l) => /reason=(WallClockTime|CPUTime|Memory)\b/.test(l)),
          "no invocation was killed at a limit",
        );
      });
    } finally {
      await removeFaults(...rules);
      await sql.end();
    }
  },
});

Deno.test({
  name: "a run killed mid-way is found by the next trigger and finished without redoing work",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(8, 5);
    const rules = await slowDown(ws.accounts, 300);
    try {
      let runId = "";
      // 1. The platform kills the invocation at its wall-clock limit, long before the budget.
      await withOwnHost(sql, {
        wallClockLimitMs: 1500,
        env: { SYNC_TIME_BUDGET_MS: "60000", SYNC_BATCH_SIZE: "2" },
      }, async (url, logs) => {
        const started = await postSync(url, { workspaceId: ws.workspaceId });
        assertEquals(started.status, 202);
        runId = started.body.runId;
        await eventually(
          "the kill",
          () => logs.some((l) => l.includes("reason=WallClockTime")) || undefined,
          10_000,
        );
      });
      const [before] = await sql`select * from public.run_progress(${runId})`;
      assert(before.completed >= 1 && before.completed < 8, `some done: ${JSON.stringify(before)}`);
      const doneBefore = await sql`select workspace_threads_account_id as id, finished_at
        from public.sync_run_accounts where run_id = ${runId} and status = 'completed'`;
      // 2. Minutes pass: the dead worker's heartbeat and leases expire (backdated, not slept).
      await expireLeases(sql, runId);
      // 3. The next trigger (with a normal wall clock) finds the run and continues it.
      await withOwnHost(sql, {
        wallClockLimitMs: 60_000,
        env: { SYNC_TIME_BUDGET_MS: "30000" },
      }, async (url) => {
        const trigger = await postSync(url, { maxAccounts: 1 });
        assert([200, 202].includes(trigger.status), JSON.stringify(trigger.body));
        assertEquals(await runEnded(sql, runId, 180_000), "completed");
      });
      const [run] = await sql`select invocations, metadata from public.system_job_logs
        where id = ${runId}`;
      assert(run.invocations >= 2, "the run kept its one log row across invocations");
      assertEquals(run.metadata.interruptions, 1, "the interruption is recorded");
      // The killed invocation's figures are not lost: the run's totals are its step rows' sums.
      const [{ logged }] = await sql`select coalesce(sum((metadata ->> 'api_calls')::int), 0)::int
        as logged from public.sync_logs where run_id = ${runId}`;
      assertEquals(run.metadata.api_calls, logged);
      const [overview] = await sql`select api_calls::int from public.sync_run_overview
        where id = ${runId}`;
      assertEquals(overview.api_calls, logged);
      const after = await sql`select workspace_threads_account_id as id, status, finished_at
        from public.sync_run_accounts where run_id = ${runId}`;
      assert(after.every((a) => a.status === "completed"), JSON.stringify(after));
      for (const done of doneBefore) {
        const same = after.find((a) => a.id === done.id)!;
        assertEquals(same.finished_at.getTime(), done.finished_at.getTime(), "not redone");
      }
      const [{ dupes }] = await sql`select count(*)::int as dupes from (
          select workspace_threads_post_id, captured_at from public.workspace_threads_post_metrics
          group by 1, 2 having count(*) > 1) d`;
      assertEquals(dupes, 0, "no duplicate snapshot");
    } finally {
      await removeFaults(...rules);
      await sql.end();
    }
  },
});

/** Makes a dead worker's leases look expired, as they will be minutes later. */
async function expireLeases(sql: postgres.Sql, runId: string) {
  await sql`update public.system_job_logs set heartbeat_at = now() - interval '10 minutes'
    where id = ${runId}`;
  await sql`update public.account_sync_leases set expires_at = now() - interval '1 second'
    where run_id = ${runId}`;
  await sql`update public.sync_run_accounts set lease_expires_at = now() - interval '1 second'
    where run_id = ${runId} and status = 'in_progress'`;
}

Deno.test({
  name: "a run killed ten times at random points loses nothing and duplicates no snapshot",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(24, 5);
    const rules = await slowDown(ws.accounts, 250);
    try {
      let runId = "";
      let kills = 0;
      for (let kill = 1; kill <= 10; kill++) {
        const wallClockLimitMs = 600 + Math.floor(Math.random() * 1000);
        await withOwnHost(sql, {
          wallClockLimitMs,
          env: { SYNC_TIME_BUDGET_MS: "60000", SYNC_BATCH_SIZE: "2" },
        }, async (url, logs) => {
          const reply = await postSync(url, runId ? { runId } : { workspaceId: ws.workspaceId });
          if (!runId) runId = reply.body.runId;
          // Killed at its limit (before or after answering), unless the run ended first.
          await eventually(
            `invocation ${kill} to end`,
            () => logs.some((l) => l.includes("shutdown reason=")) || undefined,
            10_000,
          );
          if (logs.some((l) => l.includes("reason=WallClockTime"))) kills++;
        });
        await expireLeases(sql, runId);
        const [run] = await sql`select status from public.system_job_logs where id = ${runId}`;
        if (run.status !== "running") break;
      }
      assert(kills >= 5, `the run was killed ${kills} times`);
      await withOwnHost(sql, { wallClockLimitMs: 60_000, env: {} }, async (url) => {
        await postSync(url, { runId });
        assert(["completed", "partial"].includes(await runEnded(sql, runId, 180_000)));
      });
      // Every account ends completed, or failed as worker_lost when the kills caught it three
      // times (an account no invocation finishes must not hold up the run): none is lost.
      const accounts = await sql`select workspace_threads_account_id as id, status, attempts,
          last_error_code from public.sync_run_accounts where run_id = ${runId}`;
      assertEquals(accounts.length, 24);
      assert(
        accounts.every((a) =>
          a.status === "completed" ||
          (a.status === "failed" && a.last_error_code === "worker_lost" && a.attempts === 3)
        ),
        JSON.stringify(accounts),
      );
      assert(accounts.filter((a) => a.status === "completed").length >= 12, "most completed");
      const [{ dupes }] = await sql`select count(*)::int as dupes from (
          select workspace_threads_post_id, captured_at from public.workspace_threads_post_metrics
          group by 1, 2 having count(*) > 1) d`;
      assertEquals(dupes, 0, "no duplicate snapshot");
      const completed = accounts.filter((a) => a.status === "completed").map((a) => a.id);
      const [{ posts }] =
        await sql`select count(*)::int as posts from public.workspace_threads_posts
        where workspace_threads_account_id = any(${completed}::uuid[])`;
      assertEquals(posts, completed.length * 5, "every post of a completed account stored once");
      const [{ running }] = await sql`select count(*)::int as running from public.system_job_logs
        where id = ${runId} and status = 'running'`;
      assertEquals(running, 0);
    } finally {
      await removeFaults(...rules);
      await sql.end();
    }
  },
});

Deno.test({
  name: "a lost continuation (its pg_net request fails) is finished by the next trigger",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(6, 3);
    // Slow accounts: the first invocation's 300 ms budget runs out with most still to do.
    const rules = await slowDown(ws.accounts, 200);
    try {
      let runId = "";
      await withOwnHost(sql, {
        wallClockLimitMs: 30_000,
        env: { SYNC_TIME_BUDGET_MS: "300", SYNC_BATCH_SIZE: "2" },
      }, async (url) => {
        // The hand-off goes to a project URL where nothing listens: pg_net records the
        // failure and does not retry, as on the platform.
        const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
        const deadPort = (listener.addr as Deno.NetAddr).port;
        listener.close();
        await sql`update vault.secrets set secret = ${`http://127.0.0.1:${deadPort}`}
          where name = 'project_url'`;
        const started = await postSync(url, { maxAccounts: 6, wait: true });
        assertEquals(started.status, 202, JSON.stringify(started.body));
        assertEquals(started.body.handedOff, true);
        runId = started.body.runId;
        const lost = await eventually("the failed hand-off", async () => {
          const [row] = await sql`select error_msg from net._http_response
            where error_msg is not null and created > now() - interval '1 minute'
            order by created desc limit 1`;
          return row;
        });
        assertEquals(lost.error_msg, "Couldn't connect to server");
      });
      // Minutes later the run's lease has expired (backdated, not slept) ...
      const [before] = await sql`select status from public.system_job_logs where id = ${runId}`;
      assertEquals(before.status, "running");
      await sql`update public.system_job_locks set expires_at = now() - interval '1 second'
        where job_name = 'scheduled_sync'`;
      await expireLeases(sql, runId);
      // ... and the next cron trigger resumes and finishes the same run.
      await withOwnHost(sql, { wallClockLimitMs: 60_000, env: {} }, async (url) => {
        const trigger = await postSync(url, {});
        assertEquals(trigger.body.runId, runId, JSON.stringify(trigger.body));
        assertEquals(trigger.body.how, "resumed");
        const status = await runEnded(sql, runId, 180_000);
        assert(["completed", "partial"].includes(status), status);
      });
      const [run] = await sql`select metadata from public.system_job_logs where id = ${runId}`;
      assertEquals(run.metadata.interruptions, 1);
      const [{ unfinished }] = await sql`select count(*)::int as unfinished
        from public.sync_run_accounts where run_id = ${runId} and status in ('pending', 'in_progress')`;
      assertEquals(unfinished, 0);
    } finally {
      await removeFaults(...rules);
      await sql.end();
    }
  },
});
