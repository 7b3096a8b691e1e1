// scheduled-sync under trouble: a manual sync racing a scheduled run, and an API that rate
// limits and fails transiently. Nothing crashes, no account is worked by two workers at once,
// and every failure is explained in the logs.
import { assert, assertEquals } from "../helpers/assert.ts";
import { testDb } from "../helpers/stack.ts";
import { addFault, removeFaults, simulatorStats, slowDown } from "../helpers/simulator.ts";
import { callSync, runEnded } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";

Deno.test({
  name: "a manual sync of one account during a scheduled run: never two workers on it at once",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(3, 10);
    const rules = await slowDown(ws.accounts, 150);
    try {
      const scheduled = await callSync({});
      assertEquals(scheduled.status, 202, JSON.stringify(scheduled.body));
      const target = ws.accountIds.get(ws.accounts[0].id)!;
      const manual = await callSync({ accountIds: [target], wait: true });
      assertEquals(manual.status, 200, JSON.stringify(manual.body));
      await runEnded(sql, scheduled.body.runId, 90_000);
      // Each run worked the account (or found it fresh) and finished it ...
      const outcomes = await sql`select run_id, status from public.sync_run_accounts
        where workspace_threads_account_id = ${target}
          and run_id in (${scheduled.body.runId}, ${manual.body.runId})`;
      assertEquals(outcomes.length, 2);
      assert(outcomes.every((o) => o.status === "completed"), JSON.stringify(outcomes));
      // ... and the step windows of the two runs never overlap.
      const windows =
        await sql`select run_id, min(started_at) as started, max(completed_at) as ended
        from public.sync_logs where workspace_threads_account_id = ${target}
          and run_id in (${scheduled.body.runId}, ${manual.body.runId})
        group by run_id order by started`;
      if (windows.length === 2) {
        assert(windows[0].ended <= windows[1].started, `overlap: ${JSON.stringify(windows)}`);
      }
    } finally {
      await removeFaults(...rules);
      await sql.end();
    }
  },
});

Deno.test({
  name: "a rate-limit storm and 10% transient errors: the run ends with every failure explained",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(4, 12);
    const rules = [];
    for (const account of ws.accounts) {
      rules.push(
        await addFault({ kind: "rate_limit", rps: 4, burst: 4, userId: account.id }),
        await addFault({ kind: "transient", rate: 0.1, userId: account.id }),
      );
    }
    try {
      const reply = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assert(["completed", "partial"].includes(reply.body.status), reply.body.status);
      const rows = await sql`select status, last_error_code, last_error_message
        from public.sync_run_accounts where run_id = ${reply.body.runId}`;
      assertEquals(rows.length, 4);
      for (const row of rows.filter((r) => r.status !== "completed")) {
        assert(row.last_error_code && row.last_error_message, JSON.stringify(row));
      }
      const stats = await simulatorStats();
      assert(stats.faultsInjected.transient > 0, "the storm really happened");
      const [run] =
        await sql`select metadata from public.system_job_logs where id = ${reply.body.runId}`;
      assert(run.metadata.api_retries > 0, "transient failures were retried");
    } finally {
      await removeFaults(...rules);
      await sql.end();
    }
  },
});
