// One odd item from the API (a post with a media type the database refuses, a post insight
// with a negative count) is left out and explained; it does not fail its step. Before, the
// database refused the whole batch and the step failed on every run.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testDb } from "../helpers/stack.ts";
import { addFault, removeFaults } from "../helpers/simulator.ts";
import { callSync } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";

Deno.test({
  name: "an odd post and an odd count are skipped with their reasons; the rest is stored",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(1, 8);
    const [account] = ws.accounts;
    const accountId = ws.accountIds.get(account.id)!;
    const rules = [
      await addFault({
        kind: "odd_values",
        userId: account.id,
        endpoints: ["threads"],
        item: 2,
        values: { media_type: "weird type" },
      }),
      await addFault({
        kind: "odd_values",
        userId: account.id,
        endpoints: ["post_insights"],
        values: { likes: -3 },
        count: 1,
      }),
    ];
    try {
      const reply = await callSync({ accountIds: [accountId], wait: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assertEquals(reply.body.status, "completed", JSON.stringify(reply.body));

      const steps = await sql`select job_type, status, error_code, metadata from public.sync_logs
        where run_id = ${reply.body.runId} order by job_type`;
      const step = (name: string) => steps.find((s) => s.job_type === name)!;
      for (const s of steps) {
        assertEquals([s.job_type, s.status, s.error_code], [s.job_type, "completed", null]);
      }

      const posts = step("sync_posts").metadata;
      assertEquals([posts.fetched, posts.inserted, posts.skipped], [7, 7, 1]);
      assertMatch(posts.skipped_items[0].item, /^post \d+$/);
      assertMatch(posts.skipped_items[0].reason, /media_type must be upper-case.*"weird type"/);
      const [{ stored }] = await sql`select count(*)::int as stored
        from public.workspace_threads_posts where workspace_threads_account_id = ${accountId}`;
      assertEquals(stored, 7);

      const metrics = step("sync_metrics").metadata;
      assertEquals(metrics.skipped, 1);
      assertEquals(metrics.fetched, metrics.due - 1);
      assertMatch(metrics.skipped_items[0].reason, /likes must be a non-negative integer.*-3/);
      const [{ snapshots }] = await sql`select count(*)::int as snapshots
        from public.workspace_threads_post_metrics m
        join public.workspace_threads_posts p on p.id = m.workspace_threads_post_id
        where p.workspace_threads_account_id = ${accountId}`;
      assert(snapshots === metrics.fetched, `${snapshots} snapshots, ${metrics.fetched} fetched`);
      assertEquals(step("sync_account_insights").metadata.skipped, undefined);
    } finally {
      // (The count-limited rule has retired itself.)
      await removeFaults(rules[0]);
      await sql.end();
    }
  },
});
