// Runs that never stall and never record what did not happen: an account no invocation can
// finish ends failed instead of holding up every run; a quiet account gets no false failure;
// one worker's database fault does not abandon the invocation; only sync runs continue; the
// first scheduled triggers never answer 500; a resumed run skips the accounts that left it.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testDb } from "../helpers/stack.ts";
import { addFault, removeFaults } from "../helpers/simulator.ts";
import { callSync, runEnded } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import type postgres from "postgres";
import { postSync, withOwnHost } from "../helpers/own-host.ts";

/**
 * Deactivates every active account outside `workspaceId` for the duration of `fn`, so a
 * scheduled run (which covers every workspace) works only the test's accounts.
 */
async function onlyWorkspaceActive(
  sql: postgres.Sql,
  workspaceId: string,
  fn: () => Promise<void>,
) {
  const others = await sql`update public.workspace_threads_accounts
    set is_active = false, deactivated_at = now()
    where is_active and workspace_id <> ${workspaceId} returning id`;
  try {
    await fn();
  } finally {
    await sql`update public.workspace_threads_accounts set is_active = true, deactivated_at = null
      where id = any(${others.map((o) => o.id)}::uuid[])`;
  }
}

Deno.test({
  name:
    "an account no invocation can finish ends failed; 50 healthy ones complete; the next trigger starts a new run",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(51, 4);
    const slow = ws.accounts[0];
    const slowId = ws.accountIds.get(slow.id)!;
    // Every request of that account takes 4 s: under the client's 15 s timeout (nothing fails),
    // over the 2.5 s budget of every invocation (it never finishes).
    const rule = await addFault({ kind: "latency", ms: 4000, userId: slow.id });
    await sql`update public.system_job_locks set expires_at = now(), released_at = now()
      where job_name = 'scheduled_sync' and released_at is null`;
    try {
      await onlyWorkspaceActive(sql, ws.workspaceId, async () => {
        await withOwnHost(sql, {
          wallClockLimitMs: 6000,
          env: { SYNC_TIME_BUDGET_MS: "2500" },
        }, async (url, logs) => {
          const started = await postSync(url, {});
          assertEquals(started.status, 202, JSON.stringify(started.body));
          const runId = started.body.runId;
          assertEquals(await runEnded(sql, runId), "partial");
          assert(
            !logs.some((l) => /reason=(WallClockTime|CPUTime|Memory)\b/.test(l)),
            "no invocation killed at a limit",
          );
          const outcomes = await sql`select workspace_threads_account_id as id, status, attempts,
              last_error_code, last_error_message
            from public.sync_run_accounts where run_id = ${runId}`;
          assertEquals(outcomes.length, 51);
          const slowRow = outcomes.find((o) => o.id === slowId)!;
          assertEquals([slowRow.status, slowRow.last_error_code], ["failed", "time_budget"]);
          assertEquals(slowRow.attempts, 3, "given up after three invocations");
          assertMatch(slowRow.last_error_message, /\[step sync_posts, account @/);
          const healthy = outcomes.filter((o) => o.id !== slowId);
          assert(healthy.every((o) => o.status === "completed"), JSON.stringify(healthy));
          const [run] = await sql`select invocations, metadata from public.system_job_logs
            where id = ${runId}`;
          // From the one trigger: hand-offs and side-by-side invocations, no second trigger.
          assert(run.invocations <= 30, `bounded: ${run.invocations} invocations`);
          assertEquals(run.metadata.failed_count, 1);
          // The scheduled lock is released: the next trigger starts a new run.
          await removeFaults(rule);
          const next = await postSync(url, {});
          assertEquals(next.status, 202, JSON.stringify(next.body));
          assert(next.body.runId !== runId, "a new run, not the old one resumed");
          assertEquals(next.body.how, "started");
          await runEnded(sql, next.body.runId);
        });
      });
    } finally {
      await removeFaults(rule).catch(() => {});
      await sql.end();
    }
  },
});

Deno.test({
  name: "an account with no post due gets exactly one completed row per step and no error",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(1, 0);
      const reply = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(
        [reply.status, reply.body.status],
        [200, "completed"],
        JSON.stringify(reply.body),
      );
      const steps = await sql`select job_type, status, error_code from public.sync_logs
        where run_id = ${reply.body.runId} order by id`;
      assertEquals(steps.map((s) => [s.job_type, s.status, s.error_code]), [
        ["sync_posts", "completed", null],
        ["sync_metrics", "completed", null],
        ["sync_account_insights", "completed", null],
      ]);
      const [health] = await sql`select state, last_error_code from public.account_sync_state
        where account_id = ${ws.accountIds.get(ws.accounts[0].id)!}`;
      assertEquals([health.state, health.last_error_code], ["healthy", null]);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "a database fault in one worker's claim: the others stop, the run is handed off and completes, each account once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(12, 3);
    const victim = ws.accountIds.get(ws.accounts[6].id)!;
    // The seventh account's first claim fails in the database (a sequence survives the
    // rollback, so it fails exactly once).
    await sql.unsafe(`
      create sequence if not exists public.test_claim_fault_seq;
      create or replace function public.test_claim_fault() returns trigger language plpgsql as $$
      begin
        if new.workspace_threads_account_id = '${victim}'
           and nextval('public.test_claim_fault_seq') = 1 then
          raise exception 'injected claim fault';
        end if;
        return new;
      end $$;
      create trigger test_claim_fault before update of status on public.sync_run_accounts
        for each row when (new.status = 'in_progress') execute function public.test_claim_fault();`);
    try {
      await withOwnHost(sql, { wallClockLimitMs: 60_000, env: {} }, async (url, logs) => {
        const reply = await postSync(url, { workspaceId: ws.workspaceId, wait: true });
        assertEquals(reply.body.error?.code, "worker_failed", JSON.stringify(reply.body));
        assert(reply.body.handedOff, "the invocation handed the rest off");
        assertEquals(await runEnded(sql, reply.body.runId), "completed");
        assert(logs.some((l) => l.includes("worker_failed")), "the failure is logged");
        const posts = await sql`select workspace_threads_account_id, count(*)::int as n
          from public.sync_logs where run_id = ${reply.body.runId} and job_type = 'sync_posts'
          group by 1`;
        assertEquals(posts.length, 12);
        assert(posts.every((p) => p.n === 1), `each account synced once: ${JSON.stringify(posts)}`);
      });
    } finally {
      await sql.unsafe(`drop trigger test_claim_fault on public.sync_run_accounts;
        drop function public.test_claim_fault(); drop sequence public.test_claim_fault_seq;`);
      await sql.end();
    }
  },
});

Deno.test({
  name: "a runId naming a token refresh run answers 409 and leaves that run alone",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const [run] = await sql`insert into public.system_job_logs (job_type, trigger)
        values ('token_refresh', 'manual') returning id`;
      const reply = await callSync({ runId: run.id });
      assertEquals([reply.status, reply.body.error], [409, "wrong_job_type"]);
      assertMatch(reply.body.detail, /token_refresh run/);
      const [after] = await sql`select status, invocations from public.system_job_logs
        where id = ${run.id}`;
      assertEquals([after.status, after.invocations], ["running", 1]);
      await sql`update public.system_job_logs set status = 'failed', completed_at = now(),
        error_code = 'test', error_message = 'test fixture' where id = ${run.id}`;
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "two first scheduled triggers racing before the lock row exists: one starts, one is skipped",
  sanitizeResources: false,
  fn: async () => {
    const first = await testDb();
    const second = await testDb();
    try {
      await first`delete from public.system_job_locks where job_name = 'scheduled_sync'`;
      // The first trigger's transaction creates the lock row and stays open; the second
      // waits on that row, then finds it taken.
      const winner = first.begin(async (tx) => {
        const [row] = await tx`select * from public.begin_sync_run('scheduled_sync', 'cron',
          '{"maxAccounts": 0}'::jsonb, '5 minutes')`;
        await new Promise((resolve) => setTimeout(resolve, 500));
        return row;
      });
      await new Promise((resolve) => setTimeout(resolve, 100));
      const [loser] = await second`select * from public.begin_sync_run('scheduled_sync', 'cron',
        '{}'::jsonb, '5 minutes')`;
      const won = await winner;
      assertEquals(won.outcome, "started");
      assertEquals([loser.outcome, loser.other_run_id], ["skipped", won.run_id]);
      const [skipped] = await second`select status, metadata from public.system_job_logs
        where id = ${loser.run_id}`;
      assertEquals([skipped.status, skipped.metadata.reason], ["skipped", "lock_held"]);
      await first`select public.enqueue_run_accounts(${won.run_id}, p_limit => 0)`;
      assertEquals(
        (await first`select public.finish_sync_run(${won.run_id}) as s`)[0].s,
        "completed",
      );
    } finally {
      await first.end();
      await second.end();
    }
  },
});

Deno.test({
  name: "a resumed run skips accounts deactivated, paused or token-rejected since it started",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(5, 3);
      const ids = ws.accounts.map((a) => ws.accountIds.get(a.id)!);
      const [begun] = await sql`select run_id from public.begin_sync_run('manual_sync', 'manual',
        ${sql.json({ workspaceId: ws.workspaceId })}, '5 minutes')`;
      await sql`select public.enqueue_run_accounts(${begun.run_id}, null, ${ws.workspaceId})`;
      // Minutes later, before the run's next invocation:
      await sql`update public.workspace_threads_accounts set is_active = false,
        deactivated_at = now() where id = ${ids[0]}`;
      await sql`update public.workspace_threads_accounts set sync_paused_at = now(),
        sync_paused_reason = 'operator' where id = ${ids[1]}`;
      await sql`update public.workspace_threads_tokens set rejected_at = now(),
        rejected_reason = 'auth_expired: test' where workspace_threads_account_id = ${ids[2]}`;
      const reply = await callSync({ runId: begun.run_id, wait: true });
      // Partial: not every account of the run completed (three were skipped).
      assertEquals([reply.status, reply.body.status], [200, "partial"], JSON.stringify(reply.body));
      const rows = await sql`select workspace_threads_account_id as id, status, last_error_code
        from public.sync_run_accounts where run_id = ${begun.run_id}`;
      const of = (id: string) => rows.find((r) => r.id === id)!;
      for (const left of ids.slice(0, 3)) {
        assertEquals([of(left).status, of(left).last_error_code], ["skipped", "account_left_run"]);
      }
      for (const stayed of ids.slice(3)) assertEquals(of(stayed).status, "completed");
      const [{ logged }] = await sql`select count(*)::int as logged from public.sync_logs
        where run_id = ${begun.run_id} and workspace_threads_account_id = any(${
        ids.slice(0, 3)
      }::uuid[])`;
      assertEquals(logged, 0, "no API call and no sync_logs row for the accounts that left");
      const health = await sql`select account_id, consecutive_failures, last_error_code
        from public.account_sync_health where account_id = any(${ids.slice(0, 3)}::uuid[])`;
      assert(
        health.every((h) => h.consecutive_failures === 0 && h.last_error_code === null),
        JSON.stringify(health),
      );
    } finally {
      await sql.end();
    }
  },
});
