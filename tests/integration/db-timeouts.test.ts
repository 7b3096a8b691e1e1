// Database timeouts on the functions' connections: a sync stuck behind an operator's lock fails
// that step with `database_timeout` while the lock is still held (instead of waiting until the
// platform kills it), the run ends, and the step wrote nothing.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startOwnHost, testDb, testStack } from "../helpers/stack.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import { callFunction, type FunctionReply } from "../helpers/functions.ts";
import { loadConfig } from "../../supabase/functions/_shared/platform/config.ts";
import { connect, dbTimeouts } from "../../supabase/functions/_shared/platform/db.ts";
import { toSyncLogError } from "../../supabase/functions/_shared/jobs/sync-log-error.ts";

/** Resolves true when `promise` settles within `ms`, false otherwise. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<boolean>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test({
  name:
    "a sync behind an operator's table lock fails the blocked steps with database_timeout, ends the run and writes nothing half-done",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const locker = await testDb();
    const host = await startOwnHost({ env: { DB_LOCK_TIMEOUT_MS: "500" }, log: () => {} });
    try {
      const ws = await newWorkspace(1, 4);
      const accountId = ws.accountIds.get(ws.accounts[0].id)!;
      let call: Promise<FunctionReply> | undefined;
      let answeredWhileLocked = false;
      await locker.begin(async (tx) => {
        // What an operator's maintenance does; the sync writes and reads this table.
        await tx`lock table public.workspace_threads_posts in access exclusive mode`;
        call = callFunction(host.url, "scheduled-sync", { accountIds: [accountId], wait: true });
        // Without a lock_timeout the sync would wait for as long as the lock is held.
        answeredWhileLocked = await settlesWithin(call, 15_000);
      });
      const { status, body: reply } = await call!;
      assert(answeredWhileLocked, "the sync answered while the table was still locked");
      assertEquals(status, 200, JSON.stringify(reply));
      assertEquals(reply.status, "partial", "the run ended");

      const steps = await sql`select job_type, status, error_code, error_message
        from public.sync_logs where run_id = ${reply.runId} order by id`;
      const byStep = Object.fromEntries(steps.map((s) => [s.job_type, s]));
      assertEquals(byStep.sync_posts.status, "failed");
      assertEquals(byStep.sync_posts.error_code, "database_timeout");
      assertMatch(byStep.sync_posts.error_message, /lock_timeout/);
      assertMatch(byStep.sync_posts.error_message, /SQLSTATE 55P03/);
      // Insights do not touch the locked table: that step still completed.
      assertEquals(byStep.sync_account_insights.status, "completed");
      const [{ posts }] = await sql`select count(*)::int as posts
        from public.workspace_threads_posts where workspace_threads_account_id = ${accountId}`;
      assertEquals(posts, 0, "the failed step wrote nothing");
      const [run] = await sql`select status, completed_at from public.system_job_logs
        where id = ${reply.runId}`;
      assertEquals(run.status, "partial");
      assert(run.completed_at !== null);
    } finally {
      await host.close();
      await locker.end();
      await sql.end();
    }
  },
});

Deno.test({
  name: "a statement past DB_STATEMENT_TIMEOUT_MS is cancelled and recorded as database_timeout",
  sanitizeResources: false,
  fn: async () => {
    const stack = await testStack();
    const config = loadConfig({
      SUPABASE_DB_URL: stack.dbUrl,
      CRON_SECRET: stack.cronSecret,
      TOKEN_ENCRYPTION_KEY: stack.tokenEncryptionKey,
      DB_STATEMENT_TIMEOUT_MS: "200",
      DB_LOCK_TIMEOUT_MS: "100",
    });
    const sql = connect(config.SUPABASE_DB_URL, { max: 1, timeouts: dbTimeouts(config) });
    try {
      let thrown: unknown;
      const started = Date.now();
      try {
        await sql`select pg_sleep(5)`;
      } catch (error) {
        thrown = error;
      }
      assert(Date.now() - started < 3000, "cancelled well before the statement would end");
      const logged = toSyncLogError(thrown, { step: "sync_posts", account: "@someone" });
      assertEquals(logged.code, "database_timeout");
      assertMatch(logged.message, /statement_timeout.*SQLSTATE 57014/);
    } finally {
      await sql.end();
    }
  },
});
