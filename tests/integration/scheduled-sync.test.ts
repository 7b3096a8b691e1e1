// scheduled-sync end to end on the local stack: the real function in the functions host,
// the real database, the Threads API simulator. What a user checks: the database matches the
// API's truth, the logs say what happened, bad requests change nothing.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testDb } from "../helpers/stack.ts";
import { addFault, removeFaults, simulator, simulatorStats } from "../helpers/simulator.ts";
import { callSync, runEnded } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";

interface TruePost {
  metrics: Record<string, number> | null;
}

Deno.test({
  name: "a manual sync stores posts, metrics and insights as the API reports them, with logs",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(2, 15);
      // A post published just now has no insights yet: its metrics must stay NULL, not 0.
      const { ids: [freshPost] } = await simulator<{ ids: string[] }>(
        `/accounts/${ws.accounts[0].id}/publish`,
        { body: { count: 1 } },
      );
      const reply = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assertEquals(reply.body.status, "completed");
      assertEquals(reply.body.accounts.completed, 2);

      const posts = await sql`select p.threads_post_id, p.current_views, p.current_likes,
          p.current_replies, p.current_reposts, p.current_quotes, p.current_shares
        from public.workspace_threads_posts p
        join public.workspace_threads_accounts a on a.id = p.workspace_threads_account_id
        where a.workspace_id = ${ws.workspaceId}`;
      assertEquals(posts.length, 15 + 16, "every post of both accounts");
      const fresh = posts.find((p) => p.threads_post_id === freshPost)!;
      assertEquals(fresh.current_views, null, "no insights yet is NULL, not 0");
      // The simulator's clock keeps running and metrics only grow, so each stored value is at
      // most the truth now and close to it.
      for (const post of posts.filter((p) => p.current_views !== null).slice(0, 8)) {
        const truth = await simulator<TruePost>(`/posts/${post.threads_post_id}`);
        for (const metric of ["views", "likes", "replies", "reposts", "quotes", "shares"]) {
          const value = Number(post[`current_${metric}`]);
          const now = truth.metrics![metric];
          assert(
            value <= now && value >= Math.floor(now * 0.9),
            `${post.threads_post_id} ${metric}: stored ${value}, API now ${now}`,
          );
        }
      }

      const accounts = await sql`select current_followers_count, insights_updated_at
        from public.workspace_threads_accounts where workspace_id = ${ws.workspaceId}`;
      for (const a of accounts) {
        assert(a.current_followers_count !== null && a.insights_updated_at !== null);
      }

      const [run] = await sql`select status, job_type, trigger, metadata from public.system_job_logs
        where id = ${reply.body.runId}`;
      assertEquals([run.status, run.job_type, run.trigger], ["completed", "manual_sync", "manual"]);
      assertEquals(run.metadata.total_accounts, 2);
      assertEquals(run.metadata.success_count, 2);
      // The calls the run counted are the calls the API received for these accounts.
      const stats = await simulatorStats();
      assertEquals(
        run.metadata.api_calls,
        ws.accounts.reduce((sum, a) => sum + (stats.byAccount[a.id] ?? 0), 0),
      );
      const steps = await sql`select job_type, status from public.sync_logs
        where run_id = ${reply.body.runId} order by workspace_threads_account_id, started_at`;
      assertEquals(steps.length, 6);
      assertEquals(
        steps.slice(0, 3).map((s) => s.job_type),
        ["sync_posts", "sync_metrics", "sync_account_insights"],
      );
      assert(steps.every((s) => s.status === "completed"));
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "a second sync after time passes writes new snapshots with correct deltas",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(1, 10);
      const first = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(first.body.status, "completed");
      const before = await sql`select p.id, p.threads_post_id, p.current_views
        from public.workspace_threads_posts p
        join public.workspace_threads_accounts a on a.id = p.workspace_threads_account_id
        where a.workspace_id = ${ws.workspaceId} and p.current_views is not null
        order by p.published_at desc limit 1`;
      await simulator("/clock/advance", { body: { hours: 2 } });
      const post = before[0];
      // The simulator's clock keeps running: the capture lies between these two readings.
      const truthBefore = await simulator<TruePost>(`/posts/${post.threads_post_id}`);
      const second = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(second.body.status, "completed");
      const truthAfter = await simulator<TruePost>(`/posts/${post.threads_post_id}`);
      const snapshots = await sql`select m.views, d.views as views_delta
        from public.workspace_threads_post_metrics m
        join public.workspace_threads_post_metrics_deltas d on d.snapshot_id = m.id
        where m.workspace_threads_post_id = ${post.id} order by m.captured_at`;
      assertEquals(snapshots.length, 2, "one snapshot per capture that changed something");
      const captured = Number(snapshots[1].views);
      assert(
        captured >= truthBefore.metrics!.views && captured <= truthAfter.metrics!.views,
        `${captured} within [${truthBefore.metrics!.views}, ${truthAfter.metrics!.views}]`,
      );
      assertEquals(Number(snapshots[1].views_delta), captured - Number(post.current_views));
      assertEquals(
        Number(snapshots[0].views_delta),
        Number(snapshots[0].views),
        "first: from nothing",
      );
      const [now] =
        await sql`select current_views from public.workspace_threads_posts where id = ${post.id}`;
      assertEquals(Number(now.current_views), captured, "L3 is the latest snapshot");
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "a dry run fetches and reports what would change, writes no synced data, and records its calls",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(1, 8);
      const synced = async () =>
        (await sql`select (select count(*) from public.workspace_threads_posts)
          + (select count(*) from public.workspace_threads_post_metrics)
          + (select count(*) from public.workspace_threads_account_insights)
          + (select count(*) from public.sync_run_accounts) as n`)[0].n;
      const before = await synced();
      const reply = await callSync({ workspaceId: ws.workspaceId, dryRun: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assertEquals(reply.body.dryRun, true);
      assertEquals(reply.body.accounts.length, 1);
      assertEquals(reply.body.accounts[0].steps.sync_posts.would_insert, 8);
      assertEquals(await synced(), before, "no synced data written");
      // Its own record: a dry_run run with one row per account carrying its API calls.
      const [run] = await sql`select job_type, status, metadata from public.system_job_logs
        where id = ${reply.body.runId}`;
      assertEquals([run.job_type, run.status], ["dry_run", "completed"]);
      assertEquals(run.metadata.api_calls, reply.body.apiCalls);
      const rows = await sql`select job_type, status, (metadata ->> 'api_calls')::int as calls
        from public.sync_logs where run_id = ${reply.body.runId}`;
      assertEquals(rows.map((r) => [r.job_type, r.status, r.calls]), [
        ["dry_run", "completed", reply.body.apiCalls],
      ]);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "bad requests are refused with the reason and write nothing",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const runs = async () =>
        (await sql`select count(*)::int as n from public.system_job_logs`)[0].n;
      const before = await runs();
      const cases: [
        Promise<{ status: number; body: { error?: string; detail?: string } }>,
        number,
        RegExp,
      ][] = [
        [callSync({}, { secret: null }), 401, /unauthorized/],
        [callSync({}, { secret: "wrong-secret-of-some-length" }), 401, /unauthorized/],
        [callSync({}, { method: "GET" }), 405, /method_not_allowed/],
        [callSync({}, { rawBody: "{not json" }), 400, /body must be JSON/],
        [callSync({ everything: true }), 400, /unknown keys: everything/],
        [callSync({ accountIds: "all" }), 400, /accountIds/],
        [callSync({ maxAccounts: -1 }), 400, /maxAccounts must be at least 1/],
      ];
      for (const [call, status, pattern] of cases) {
        const reply = await call;
        assertEquals(reply.status, status, JSON.stringify(reply.body));
        assertMatch(`${reply.body.error} ${reply.body.detail}`, pattern);
      }
      assertEquals(await runs(), before, "no run was recorded");
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "a token the API rejects skips that account; the others complete",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(3, 5);
    const rule = await addFault({ kind: "token_expired", userId: ws.accounts[1].id });
    try {
      const reply = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(reply.body.status, "partial");
      assertEquals(reply.body.accounts.completed, 2);
      assertEquals(reply.body.accounts.skipped, 1);
      const [row] = await sql`select status, last_error_code, last_error_message
        from public.sync_run_accounts where run_id = ${reply.body.runId}
        and workspace_threads_account_id = ${ws.accountIds.get(ws.accounts[1].id)!}`;
      assertEquals(row.status, "skipped");
      assertEquals(row.last_error_code, "auth_expired");
      assertMatch(row.last_error_message, /reconnect the account/);
    } finally {
      await removeFaults(rule);
      await sql.end();
    }
  },
});

Deno.test({
  name: "a garbage API response fails that account with a clear error and writes none of its data",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(2, 6);
    const broken = ws.accounts[0];
    const rule = await addFault({
      kind: "malformed",
      variant: "html",
      userId: broken.id,
      endpoints: ["threads"],
    });
    try {
      const reply = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(reply.body.accounts.completed, 1);
      const brokenId = ws.accountIds.get(broken.id)!;
      const [log] = await sql`select status, error_code, error_message from public.sync_logs
        where run_id = ${reply.body.runId} and workspace_threads_account_id = ${brokenId}
        and job_type = 'sync_posts'`;
      assertEquals(log.status, "failed");
      assertEquals(log.error_code, "bad_response");
      assertMatch(log.error_message, /threads/);
      const [{ n }] = await sql`select count(*)::int as n from public.workspace_threads_posts
        where workspace_threads_account_id = ${brokenId}`;
      assertEquals(n, 0, "no half-written posts");
    } finally {
      await removeFaults(rule);
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "twenty concurrent triggers: one scheduled run proceeds, the others are recorded as skipped",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    // Slow API answers keep the first run going while all twenty triggers arrive; without
    // them a two-account run can end (and release the lock) before the last trigger lands.
    const slow = await addFault({ kind: "latency", ms: 1500 });
    try {
      const replies = await Promise.all(
        Array.from({ length: 20 }, () => callSync({ maxAccounts: 2 })),
      );
      const started = replies.filter((r) => r.status === 202);
      const skipped = replies.filter((r) => r.status === 200 && r.body.skipped === true);
      assertEquals(started.length, 1, JSON.stringify(replies.map((r) => r.body)));
      assertEquals(skipped.length, 19);
      const runId = started[0].body.runId;
      assert(skipped.every((r) => r.body.runningRunId === runId), "each names the running run");
      const rows = await sql`select status from public.system_job_logs
        where id = any(${skipped.map((r) => r.body.runId)}::uuid[])`;
      assertEquals(rows.length, 19);
      assert(rows.every((r) => r.status === "skipped"));
      const finished = await runEnded(sql, runId, 60_000);
      assertEquals(finished, "completed");
    } finally {
      await removeFaults(slow);
      await sql.end();
    }
  },
});
