// The whole chain on the real pg_cron: a job on an every-minute schedule calls
// trigger_edge_function, the pg_net stand-in posts to the functions host, and the function,
// having checked the cron secret, writes to the database.
import { assertEquals } from "../helpers/assert.ts";
import { eventually, testDb } from "../helpers/stack.ts";

Deno.test({
  name: "a pg_cron job reaches a function through trigger_edge_function and pg_net within 90 s",
  // The job fires at the start of the next minute.
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const marker = crypto.randomUUID();
    try {
      await sql`create schema if not exists test_fixtures`;
      await sql`create table if not exists test_fixtures.chain_probe_hits (
        marker text not null, received_at timestamptz not null default now())`;
      const body = JSON.stringify({ marker });
      await sql`select cron.schedule('chain-probe-test', '* * * * *',
        ${`select public.trigger_edge_function('chain-probe', '${body}'::jsonb)`})`;
      const hit = await eventually(
        "the function's write",
        async () => {
          const rows =
            await sql`select marker from test_fixtures.chain_probe_hits where marker = ${marker}`;
          return rows[0];
        },
        90_000,
        500,
      );
      assertEquals(hit.marker, marker);
      const [run] = await sql`select d.status from cron.job_run_details d
        join cron.job j on j.jobid = d.jobid where j.jobname = 'chain-probe-test'
        order by d.start_time desc limit 1`;
      assertEquals(run.status, "succeeded");
      const [response] = await sql`select status_code from net._http_response
        where content like ${`%${marker}%`}`;
      assertEquals(response.status_code, 200);
    } finally {
      await sql`select cron.unschedule(jobid) from cron.job where jobname = 'chain-probe-test'`;
      await sql.end();
    }
  },
});
