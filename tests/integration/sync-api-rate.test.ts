// scheduled-sync against an API that enforces an app-wide rate (Graph code 4 over HTTP 400,
// no Retry-After, as Graph answers): told the limit, two runs side by side (each its own
// invocation) get no rate-limit answer at all; told a limit above the API's, the answers are
// absorbed by short pauses of every caller, and no account idles a minute.
import { assert, assertEquals } from "../helpers/assert.ts";
import { testDb, testStackEnv } from "../helpers/stack.ts";
import { addFault, removeFaults, simulator, simulatorStats } from "../helpers/simulator.ts";
import { callSync } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";

// What the test stack's functions are told (local-stack/test-runner.ts).
const TOLD_RPS = Number(testStackEnv().THREADS_API_MAX_RPS ?? 20);

async function withAppLimit<T>(rps: number, fn: () => Promise<T>): Promise<T> {
  const rule = await addFault({
    kind: "rate_limit",
    rps,
    burst: Math.max(1, Math.round(rps / 10)),
    retryAfter: false,
  });
  await simulator("/stats/reset", { method: "POST" });
  try {
    return await fn();
  } finally {
    await removeFaults(rule);
  }
}

Deno.test({
  name: "told the API's limit, two runs side by side get no rate-limit answer",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const [one, two] = [await newWorkspace(8, 30), await newWorkspace(8, 30)];
    try {
      const { replies, stats } = await withAppLimit(TOLD_RPS, async () => {
        const replies = await Promise.all(
          [one, two].map((ws) => callSync({ workspaceId: ws.workspaceId, wait: true })),
        );
        return { replies, stats: await simulatorStats() };
      });
      for (const reply of replies) {
        assertEquals(reply.status, 200, JSON.stringify(reply.body));
        assertEquals(reply.body.status, "completed", JSON.stringify(reply.body));
      }
      assertEquals(stats.rateLimited, 0, `rate-limit answers: ${JSON.stringify(stats)}`);
      assert(stats.peakRps <= TOLD_RPS, `the API saw ${stats.peakRps} requests within a second`);
      // Enough calls that each run alone, at the told rate, would have overrun the API together.
      assert(stats.requests > 2 * TOLD_RPS, `only ${stats.requests} requests`);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "told a rate above the API's, code-4 answers are absorbed by short pauses: no minute of idling",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(6, 20);
    const apiRps = Math.round(TOLD_RPS / 4);
    try {
      const started = Date.now();
      const { reply, stats } = await withAppLimit(apiRps, async () => {
        const reply = await callSync({ workspaceId: ws.workspaceId, wait: true });
        return { reply, stats: await simulatorStats() };
      });
      const seconds = (Date.now() - started) / 1000;
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assert(stats.rateLimited > 0, "the API really refused calls (the limit was above its own)");
      assertEquals(reply.body.status, "completed", JSON.stringify(reply.body));
      // A minute per rate-limited account is what this replaces: the run takes seconds.
      assert(seconds < 30, `the run took ${seconds} s`);
      const deferred = await sql`select count(*)::int as n from public.workspace_threads_accounts
        where workspace_id = ${ws.workspaceId} and rate_limited_until is not null`;
      assertEquals(deferred[0].n, 0, "no account was deferred");
      const minuteRetries = await sql`select error_message from public.sync_logs
        where run_id = ${reply.body.runId} and error_message like '%retry after 60000 ms%'`;
      assertEquals(minuteRetries.length, 0, "no account was put back for a minute");
    } finally {
      await sql.end();
    }
  },
});
