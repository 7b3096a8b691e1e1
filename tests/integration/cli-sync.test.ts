// `npm run sync` as an operator runs it: a subprocess against the test stack, the real
// scheduled-sync function behind it, the database checked afterwards. What an operator
// relies on: a dry run writes no synced data, a wrong secret says so, a run ends with its summary and
// the exit status a script expects, --failed-since re-runs exactly the accounts that failed,
// and a sync that finds a scheduled run going follows it instead of failing.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testDb, testStack } from "../helpers/stack.ts";
import { addFault, removeFaults } from "../helpers/simulator.ts";
import { callSync } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import { cliCommand, runCli } from "../helpers/cli.ts";

const command = (args: string[]) => cliCommand("sync", args);
const sync = (args: string[]) => runCli("sync", args);

/** What one workspace has in the tables a sync writes. */
async function footprint(sql: Awaited<ReturnType<typeof testDb>>, workspaceId: string) {
  const [row] = await sql`
    select
      (select count(*)::int from public.workspace_threads_posts p
        join public.workspace_threads_accounts a on a.id = p.workspace_threads_account_id
        where a.workspace_id = ${workspaceId}) as posts,
      (select count(*)::int from public.workspace_threads_post_metrics m
        join public.workspace_threads_posts p on p.id = m.workspace_threads_post_id
        join public.workspace_threads_accounts a on a.id = p.workspace_threads_account_id
        where a.workspace_id = ${workspaceId}) as snapshots,
      (select count(*)::int from public.workspace_threads_account_insights i
        join public.workspace_threads_accounts a on a.id = i.workspace_threads_account_id
        where a.workspace_id = ${workspaceId}) as insights,
      (select count(*)::int from public.sync_logs l
        join public.workspace_threads_accounts a on a.id = l.workspace_threads_account_id
        where a.workspace_id = ${workspaceId}) as logs,
      (select count(*)::int from public.sync_run_accounts r
        join public.workspace_threads_accounts a on a.id = r.workspace_threads_account_id
        where a.workspace_id = ${workspaceId}) as run_accounts,
      (select count(*)::int from public.system_job_logs j
        where j.metadata -> 'request' ->> 'workspaceId' = ${workspaceId}) as runs,
      (select count(*)::int from public.workspace_threads_accounts a
        where a.workspace_id = ${workspaceId} and a.last_synced_at is not null) as synced`;
  return row;
}

Deno.test({
  name: "sync --dry-run --workspace prints what would change, writes no synced data and exits 0",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(2, 5);
      const before = await footprint(sql, ws.workspaceId);
      const result = await sync(["--dry-run", "--workspace", ws.workspaceId]);
      assertEquals(result.code, 0, result.stderr);
      assertMatch(result.stdout, /Dry run: no synced data was written\. 2 account\(s\)/);
      for (const account of ws.accounts) {
        // Five posts per account, none stored yet: all five would be new.
        assertMatch(result.stdout, new RegExp(`@${account.username}\\s+5 of 5`));
      }
      // Only the dry run's own record (one row per account, for the API call budget).
      assertEquals(await footprint(sql, ws.workspaceId), { ...before, logs: 2 });
      assertEquals(before.posts + before.logs + before.runs + before.synced, 0);
      const [{ kinds }] = await sql`select array_agg(distinct l.job_type) as kinds
        from public.sync_logs l join public.workspace_threads_accounts a
          on a.id = l.workspace_threads_account_id
        where a.workspace_id = ${ws.workspaceId}`;
      assertEquals(kinds, ["dry_run"]);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "sync with a wrong cron secret exits 1 saying the function refused it, and runs nothing",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(1, 3);
      const result = await sync(["--workspace", ws.workspaceId, "--secret", "not-the-secret"]);
      assertEquals(result.code, 1, result.stdout);
      assertMatch(
        result.stderr,
        /the function refused the cron secret \(401\): check CRON_SECRET/,
      );
      assert(!result.stderr.includes("not-the-secret"), "the secret is not echoed");
      assertEquals((await footprint(sql, ws.workspaceId)).runs, 0);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "sync --workspace shows progress, ends with the per-account summary and exits 0",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(3, 4);
      const result = await sync(["--workspace", ws.workspaceId]);
      assertEquals(result.code, 0, result.stdout + result.stderr);
      const runId = /Run ([0-9a-f-]{36}) started/.exec(result.stdout)?.[1];
      assert(runId, result.stdout);
      // Not a terminal: one progress line per change, the last one complete.
      const progress = result.stdout.split("\n").filter((l) => l.startsWith("["));
      assert(progress.length >= 1, result.stdout);
      assertMatch(progress.at(-1)!, /^\[#+\] 3\/3 accounts$/);
      assertEquals(new Set(progress).size, progress.length, "no line repeated");
      // The summary is last: the run's line, then one row per account.
      const lines = result.stdout.trimEnd().split("\n");
      const summaryAt = lines.findIndex((l) => l.startsWith(`Run ${runId} completed in`));
      assert(summaryAt >= 0, result.stdout);
      assertMatch(lines[summaryAt], /3\/3 accounts synced \(0 partial, 0 failed, 0 skipped\)/);
      const rows = lines.slice(summaryAt + 2);
      assertEquals(rows.length, 3, result.stdout);
      for (const account of ws.accounts) {
        assert(
          rows.some((r) => new RegExp(`@${account.username}\\s.*\\scompleted$`).test(r)),
          `${account.username} in ${rows.join("\n")}`,
        );
      }
      const [run] = await sql`select status, job_type from public.system_job_logs
        where id = ${runId}`;
      assertEquals([run.status, run.job_type], ["completed", "manual_sync"]);
      assertEquals((await footprint(sql, ws.workspaceId)).synced, 3);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "sync --failed-since re-runs exactly the accounts whose last sync failed",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(3, 4);
    const broken = ws.accounts[1];
    let fault: { id: string } | undefined;
    try {
      const first = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(first.body.status, "completed", JSON.stringify(first.body));
      // The post list of one account answers an HTML page instead of JSON.
      fault = await addFault({
        kind: "malformed",
        variant: "html",
        userId: broken.id,
        endpoints: ["threads"],
      });
      const second = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(second.body.status, "partial", JSON.stringify(second.body));
      await removeFaults(fault);
      fault = undefined;

      const result = await sync(["--failed-since", "10m", "--workspace", ws.workspaceId]);
      assertEquals(result.code, 0, result.stdout + result.stderr);
      assertMatch(result.stdout, /Re-running 1 account\(s\) whose last sync failed since/);
      assertMatch(result.stdout, new RegExp(`@${broken.username}\\s+partial \\(bad_response\\)`));
      const runId = /Run ([0-9a-f-]{36}) started/.exec(result.stdout)?.[1];
      assert(runId, result.stdout);
      const rerun = await sql`select workspace_threads_account_id as id, status
        from public.sync_run_accounts where run_id = ${runId}`;
      assertEquals(rerun.map((r) => [r.id, r.status]), [
        [ws.accountIds.get(broken.id), "completed"],
      ]);

      // Its last sync now succeeded: nothing is left to re-run.
      const again = await sync(["--failed-since", "10m", "--workspace", ws.workspaceId]);
      assertEquals(again.code, 0, again.stdout + again.stderr);
      assertMatch(again.stdout, /nothing to re-run/);
    } finally {
      if (fault) await removeFaults(fault);
      await sql.end();
    }
  },
});

Deno.test({
  name: "sync of every account while a scheduled run holds the lock follows that run to its end",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    await testStack();
    // A scheduled run with nothing to do, holding the lock as a live run does.
    const [held] = await sql`select run_id from public.begin_sync_run('scheduled_sync', 'cron',
      '{}'::jsonb, '5 minutes'::interval) where outcome = 'started'`;
    assert(held, "the lock was free to take");
    const child = command([]).spawn();
    try {
      let stdout = "";
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      while (!stdout.includes(`following run ${held.run_id}`)) {
        const { value, done } = await reader.read();
        if (done) break;
        stdout += value;
      }
      assertMatch(stdout, /A scheduled run already holds the lock/);
      // The run ends; the command sees it, prints the summary and exits with its outcome.
      await sql`select public.finish_sync_run(${held.run_id})`;
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        stdout += value;
      }
      const status = await child.status;
      assertEquals(status.code, 0, stdout);
      assertMatch(stdout, new RegExp(`Run ${held.run_id} completed in`));
    } finally {
      await sql`select public.finish_sync_run(${held.run_id}, 'test_cleanup', 'released by the test')`;
      await child.stderr.cancel().catch(() => {});
      await sql.end();
    }
  },
});

Deno.test({
  name: "sync --help prints the usage; contradictory flags are a usage error (exit 2)",
  sanitizeResources: false,
  fn: async () => {
    const help = await sync(["--help"]);
    assertEquals(help.code, 0);
    assertMatch(help.stdout, /^Usage: npm run sync -- \[options\]/);
    const bad = await sync([
      "--account",
      crypto.randomUUID(),
      "--workspace",
      crypto.randomUUID(),
    ]);
    assertEquals(bad.code, 2);
    assertMatch(bad.stderr, /--account and --workspace cannot be combined/);
  },
});
