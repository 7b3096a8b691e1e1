// The whole chain on the real pg_cron: jobs on an every-minute schedule call
// trigger_edge_function, the pg_net stand-in posts to the functions host, and the functions,
// having checked the cron secret, do their work. Both jobs fire in the same minute.
import { assert, assertEquals } from "../helpers/assert.ts";
import { eventually, testDb } from "../helpers/stack.ts";
import { runEnded } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";

Deno.test({
  name: "pg_cron jobs reach functions through trigger_edge_function and pg_net within 90 s",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const marker = crypto.randomUUID();
    try {
      // A never-synced account: the least recently synced, so the run's one account.
      await newWorkspace(1, 4);
      await sql`create schema if not exists test_fixtures`;
      await sql`create table if not exists test_fixtures.chain_probe_hits (
        marker text not null, received_at timestamptz not null default now())`;
      const body = JSON.stringify({ marker });
      await sql`select cron.schedule('chain-probe-test', '* * * * *',
        ${`select public.trigger_edge_function('chain-probe', '${body}'::jsonb)`})`;
      // The production job's command on an every-minute schedule, limited to one account.
      await sql`select cron.schedule('scheduled-sync-test', '* * * * *',
        $$select public.trigger_edge_function('scheduled-sync', '{"maxAccounts": 1}')$$)`;
      const scheduledAfter = new Date();

      // 1. The fixture function checked the secret and wrote to the database.
      const hit = await eventually(
        "the probe function's write",
        async () => {
          const rows =
            await sql`select marker from test_fixtures.chain_probe_hits where marker = ${marker}`;
          return rows[0];
        },
        90_000,
        500,
      );
      assertEquals(hit.marker, marker);
      const [probeRun] = await sql`select d.status from cron.job_run_details d
        join cron.job j on j.jobid = d.jobid where j.jobname = 'chain-probe-test'
        order by d.start_time desc limit 1`;
      assertEquals(probeRun.status, "succeeded");

      // 2. scheduled-sync answered pg_net with 202 and the run id, within pg_net's timeout ...
      const answer = await eventually(
        "scheduled-sync's answer to pg_net",
        async () => {
          const [row] = await sql`select status_code, content, timed_out from net._http_response
          where content like '%runId%' and created >= ${scheduledAfter} order by created limit 1`;
          return row;
        },
        30_000,
        500,
      );
      assertEquals(answer.status_code, 202);
      assert(!answer.timed_out);
      const runId = JSON.parse(answer.content).runId;
      // ... and the run, continuing under EdgeRuntime.waitUntil, completed and left logs.
      const status = await runEnded(sql, runId, 30_000);
      assertEquals(status, "completed");
      const [{ n }] =
        await sql`select count(*)::int as n from public.sync_logs where run_id = ${runId}`;
      const [{ total }] = await sql`select (metadata ->> 'total_accounts')::int as total
        from public.system_job_logs where id = ${runId}`;
      assertEquals(total, 1, "maxAccounts: 1");
      assertEquals(n, 3, "one sync_logs row per step of the one account");
    } finally {
      await sql`select cron.unschedule(jobid) from cron.job
        where jobname in ('chain-probe-test', 'scheduled-sync-test')`;
      await sql.end();
    }
  },
});
