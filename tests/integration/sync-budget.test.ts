// The API budget: an account with 5,000 posts does not spend its 24-hour call budget. Each run
// refreshes the insights of the posts that are due (all recent posts every run, older ones
// less often, at most METRICS_POSTS_PER_RUN), and records its calls per step so the last
// 24 hours are one query.
import { assert, assertEquals } from "../helpers/assert.ts";
import { testDb } from "../helpers/stack.ts";
import { simulatorStats } from "../helpers/simulator.ts";
import { callSync } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import { METRICS_POSTS_PER_RUN } from "../../supabase/functions/_shared/sync.ts";

/** The Threads API's floor: 4,800 x 10 impressions calls per user per rolling 24 hours. */
const DAILY_FLOOR = 48_000;
const RUNS_PER_DAY = 96;

Deno.test({
  name:
    "an account with 5,000 posts stays inside its daily budget and its recent posts are fresh every run",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(1, 5000);
      const account = ws.accounts[0];
      const accountId = ws.accountIds.get(account.id)!;
      const stats = () => simulatorStats();
      const callsBefore = (await stats()).byAccount[account.id] ?? 0;

      const first = await callSync({ accountIds: [accountId], wait: true });
      assertEquals(first.body.status, "completed", JSON.stringify(first.body));
      const afterFirst = (await stats()).byAccount[account.id];
      const second = await callSync({ accountIds: [accountId], wait: true });
      assertEquals(second.body.status, "completed", JSON.stringify(second.body));
      const afterSecond = (await stats()).byAccount[account.id];

      const [{ posts }] =
        await sql`select count(*)::int as posts from public.workspace_threads_posts
        where workspace_threads_account_id = ${accountId}`;
      assertEquals(posts, 5000, "the first sync reads the whole history");
      // A later run: one page of new posts, the insights of the posts due (capped), the
      // account's insights. The cap bounds a day of runs below the budget's floor.
      const secondRunCalls = afterSecond - afterFirst;
      assert(secondRunCalls <= METRICS_POSTS_PER_RUN + 2, `second run: ${secondRunCalls} calls`);
      assert(RUNS_PER_DAY * (METRICS_POSTS_PER_RUN + 2) < DAILY_FLOOR, "the cap fits the floor");

      // Every post published in the last 48 hours was refreshed by the second run.
      const [{ stale }] =
        await sql`select count(*)::int as stale from public.workspace_threads_posts p
        where p.workspace_threads_account_id = ${accountId}
          and p.published_at > now() - interval '48 hours'
          and p.media_type is distinct from 'REPOST_FACADE'
          and p.metrics_checked_at < (select min(started_at) from public.sync_logs
            where run_id = ${second.body.runId})`;
      assertEquals(stale, 0, "recent posts are fresh every run");

      // The account's calls over the last 24 hours are one query, and match the API's count.
      const [{ calls24h }] =
        await sql`select sum((metadata ->> 'api_calls')::int)::int as "calls24h"
        from public.sync_logs where workspace_threads_account_id = ${accountId}
          and completed_at > now() - interval '24 hours'`;
      assertEquals(calls24h, afterSecond - callsBefore);
      assert(calls24h < DAILY_FLOOR);
    } finally {
      await sql.end();
    }
  },
});
