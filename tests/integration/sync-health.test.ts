// What the sync does when the API or an account keeps failing: the circuit breaker stops a
// run during an outage and the next run probes first; an account rate-limited for a while is
// retried in the same run; an account failing run after run shows its streak, is paused at the
// threshold, and syncs again once an operator resumes it.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testDb } from "../helpers/stack.ts";
import { addFault, removeFaults, simulator, simulatorStats } from "../helpers/simulator.ts";
import { callSync, runEnded } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";

Deno.test({
  name: "an API outage opens the circuit breaker; the next run probes with one account first",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    await newWorkspace(8, 3);
    const down = await addFault({ kind: "down" });
    let faultActive = true;
    try {
      await simulator("/stats/reset", { body: {} });
      const first = await callSync({ maxAccounts: 8 });
      assertEquals(first.status, 202, JSON.stringify(first.body));
      assertEquals(await runEnded(sql, first.body.runId, 90_000), "failed");
      const [run] = await sql`select error_code, error_message, metadata from public.system_job_logs
        where id = ${first.body.runId}`;
      assertEquals(run.error_code, "api_unavailable");
      assertMatch(
        run.error_message,
        /Stopped calling the Threads API after \d+ account\(s\) in a row/,
      );
      const stats = await simulatorStats();
      // Without the breaker every account would be tried three times (in-run retries), each
      // attempt 8 calls (two API steps, four tries each). With it, no account is retried and
      // the accounts still pending are never called.
      assert(stats.requests <= 8 * 8, `the API saw ${stats.requests} calls`);
      const skipped = await sql`select count(*)::int as n from public.sync_run_accounts
        where run_id = ${first.body.runId} and status = 'skipped' and last_error_code = 'api_unavailable'`;
      assert(skipped[0].n >= 1, "the remaining accounts are skipped with the reason");

      await removeFaults(down);
      faultActive = false;
      const second = await callSync({ maxAccounts: 8 });
      assertEquals(second.status, 202);
      assertEquals(await runEnded(sql, second.body.runId, 90_000), "completed");
      const [probe] =
        await sql`select metadata from public.system_job_logs where id = ${second.body.runId}`;
      assertEquals(probe.metadata.probed_after_outage, true);
    } finally {
      if (faultActive) await removeFaults(down);
      await sql.end();
    }
  },
});

Deno.test({
  name: "an account rate-limited for a few seconds is retried in the same run and completes",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(2, 4);
    const limited = ws.accounts[0];
    // Its first call is refused with the per-user limit (code 17) and a wait of about 4 s,
    // longer than the client waits on its own: the account has to be retried later in the run.
    await addFault({
      kind: "daily_budget",
      calls: 0,
      windowMs: 4000,
      count: 1,
      userId: limited.id,
      endpoints: ["threads"],
    });
    try {
      const reply = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(reply.body.status, "completed", JSON.stringify(reply.body));
      const id = ws.accountIds.get(limited.id)!;
      const attempts = await sql`select attempt, job_type, status, error_code from public.sync_logs
        where run_id = ${reply.body.runId} and workspace_threads_account_id = ${id}
        order by started_at, id`;
      assertEquals(attempts[0].attempt, 1);
      assertEquals([attempts[0].status, attempts[0].error_code], ["failed", "rate_limited"]);
      assert(
        attempts.some((a) =>
          a.attempt === 2 && a.job_type === "sync_posts" && a.status === "completed"
        ),
        JSON.stringify(attempts),
      );
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "an account failing run after run shows its streak, is paused at 10, and syncs once resumed",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(2, 3);
    const sick = ws.accounts[0];
    const sickId = ws.accountIds.get(sick.id)!;
    const rule = await addFault({ kind: "malformed", variant: "html", userId: sick.id });
    let faultActive = true;
    const state = async () =>
      (await sql`select state, detail, consecutive_failures from public.account_sync_state
        where account_id = ${sickId}`)[0];
    try {
      for (let run = 1; run <= 10; run++) {
        const reply = await callSync({ workspaceId: ws.workspaceId, wait: true });
        assertEquals(reply.body.status, "partial");
        if (run === 3) {
          const s = await state();
          assertEquals([s.state, s.consecutive_failures], ["failing", 3]);
          assertMatch(s.detail, /3 failed run\(s\) in a row; last: bad_response/);
        }
      }
      const paused = await state();
      assertEquals(paused.state, "paused");
      assertMatch(paused.detail, /Paused after 10 failed syncs in a row; last: bad_response/);

      // Runs over the workspace leave it alone now.
      const eleventh = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(eleventh.body.accounts.total, 1);

      await removeFaults(rule);
      faultActive = false;
      const [{ resumed }] = await sql`select public.resume_account_sync(${sickId}) as resumed`;
      assertEquals(resumed, true);
      const after = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(after.body.accounts.total, 2);
      assertEquals(after.body.status, "completed");
      assertEquals((await state()).state, "healthy");
    } finally {
      if (faultActive) await removeFaults(rule);
      await sql.end();
    }
  },
});
