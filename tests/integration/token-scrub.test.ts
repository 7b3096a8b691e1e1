// An upstream error that quotes the account's bare token (no `access_token=` around it, so no
// pattern recognises it) is scrubbed inside the client: after a sync through scheduled-sync the
// token is in no table, no log line of the function and no response.
import { assert, assertEquals } from "../helpers/assert.ts";
import { testDb } from "../helpers/stack.ts";
import { capturingHosts } from "../helpers/functions.ts";
import { addFault, removeFaults } from "../helpers/simulator.ts";
import { newWorkspace } from "../helpers/workspace.ts";

Deno.test({
  name: "a token quoted by an upstream error reaches no table, log line or response",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(2, 6);
    const [leaky, healthy] = ws.accounts;
    const rule = await addFault({
      kind: "error",
      code: 100,
      message: "(#100) Invalid OAuth access token - Cannot parse access token",
      echoToken: true,
      userId: leaky.id,
      endpoints: ["threads", "user_insights"],
    });
    const functions = capturingHosts();
    const { logs } = functions;
    try {
      const response = await functions.post("scheduled-sync", {
        workspaceId: ws.workspaceId,
        wait: true,
      });
      const reply = response.text;
      assertEquals(response.status, 200, reply);
      const runId = response.body.runId as string;
      const leakyId = ws.accountIds.get(leaky.id)!;

      // The failure is recorded, with Threads' words, but without the token.
      const steps = await sql`select job_type, status, error_code, error_message
        from public.sync_logs where run_id = ${runId} and workspace_threads_account_id = ${leakyId}
        order by started_at, job_type`;
      const failed = steps.find((s) => s.job_type === "sync_posts")!;
      assertEquals([failed.status, failed.error_code], ["failed", "permanent"]);
      assert(failed.error_message.includes("access token: [redacted]"), failed.error_message);
      const [{ healthy_status }] = await sql`select status as healthy_status
        from public.sync_run_accounts
        where run_id = ${runId} and workspace_threads_account_id = ${ws.accountIds.get(
        healthy.id,
      )!}`;
      assertEquals(healthy_status, "completed");

      const tables = await sql`
        select 'sync_logs' as source, s::text as row from public.sync_logs s
          where s.run_id = ${runId}
        union all
        select 'system_job_logs', j::text from public.system_job_logs j where j.id = ${runId}
        union all
        select 'sync_run_accounts', r::text from public.sync_run_accounts r
          where r.run_id = ${runId}`;
      assert(tables.length >= 4, `rows: ${tables.length}`);
      for (const { source, row } of tables) {
        assert(!row.includes(leaky.token), `token in ${source}: ${row}`);
      }
      assert(!reply.includes(leaky.token), `token in the response: ${reply}`);
      assert(logs.length > 0, "the function logged");
      for (const line of logs) assert(!line.includes(leaky.token), `token in a log line: ${line}`);
    } finally {
      await functions.close();
      await removeFaults(rule);
      await sql.end();
    }
  },
});
