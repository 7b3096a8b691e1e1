// One API rate for the whole app: limiters of separate invocations (each its own database
// connection, as two functions' workers are) share the send times claim_api_slots hands out,
// so together they never exceed the rate in any one-second window; and a pause one of them
// records holds the other too.
import postgres from "postgres";
import { assert, assertEquals } from "../helpers/assert.ts";
import { testStack } from "../helpers/stack.ts";
import { addFault, removeFaults, simulator, simulatorStats } from "../helpers/simulator.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import { databaseSlots } from "../../supabase/functions/_shared/threads/api-rate-slots.ts";
import { RateLimiter } from "../../supabase/functions/_shared/threads/rate-limiter.ts";
import { createLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { ThreadsApiClient } from "../../supabase/functions/_shared/threads-api.ts";

/** Most of `times` (ms) within any window [t, t + 1000). */
function busiestSecond(times: number[]): number {
  const sorted = [...times].sort((a, b) => a - b);
  let most = 0;
  for (let i = 0, j = 0; i < sorted.length; i++) {
    while (j < sorted.length && sorted[j] < sorted[i] + 1000) j++;
    most = Math.max(most, j - i);
  }
  return most;
}

/** A connection of its own, as each invocation of a function has. */
async function invocationDb() {
  const stack = await testStack();
  return postgres(stack.dbUrl, { max: 2, prepare: false, onnotice: () => {} });
}

Deno.test({
  name: "two invocations' limiters together never exceed the rate in any one-second window",
  sanitizeResources: false,
  fn: async () => {
    const RPS = 40;
    const DURATION_MS = 4_000;
    const ws = await newWorkspace(2, 5);
    const stack = await testStack();
    const dbs = [await invocationDb(), await invocationDb()];
    // The API enforces exactly RPS; a refusal here would mean the limiters overran it.
    const rule = await addFault({ kind: "rate_limit", rps: RPS, burst: 5, retryAfter: false });
    await simulator("/stats/reset", { method: "POST" });
    const sends: number[][] = [[], []];
    try {
      const end = Date.now() + DURATION_MS;
      await Promise.all(dbs.map(async (sql, invocation) => {
        const limiter = new RateLimiter({ maxRps: RPS, slots: databaseSlots(sql) });
        // As busy as an invocation of the sync: many callers at once, each one after another.
        await Promise.all(Array.from({ length: 12 }, async (_, caller) => {
          const client = new ThreadsApiClient({
            baseUrl: stack.threadsApiBaseUrl,
            accessToken: ws.accounts[caller % 2].token,
            limiter,
            logger: createLogger({}, () => {}),
            fetch: (input, init) => {
              sends[invocation].push(Date.now());
              return fetch(input, init);
            },
          });
          while (Date.now() < end) await client.getProfile();
        }));
      }));
      const all = sends.flat();
      const stats = await simulatorStats();
      assert(
        sends.every((s) => s.length > RPS),
        `both invocations sent: ${sends.map((s) => s.length)}`,
      );
      assert(busiestSecond(all) <= RPS, `${busiestSecond(all)} sends within one second`);
      assert(stats.peakRps <= RPS, `the API saw ${stats.peakRps} requests within one second`);
      assertEquals(stats.rateLimited, 0, "no rate-limit answer");
      // The shared rate is used, not only respected: 0.95 of it, less a claim's first slots.
      const perSecond = all.length / (DURATION_MS / 1000);
      assert(perSecond >= 0.8 * RPS, `${perSecond.toFixed(1)} requests/s of ${RPS}`);
    } finally {
      await removeFaults(rule);
      await Promise.all(dbs.map((sql) => sql.end()));
    }
  },
});

Deno.test({
  name: "an app-level rate limit one invocation meets pauses the other invocations too",
  sanitizeResources: false,
  fn: async () => {
    const [a, b] = [await invocationDb(), await invocationDb()];
    try {
      const one = new RateLimiter({ maxRps: 50, coolDownMs: 1_500, slots: databaseSlots(a) });
      const other = new RateLimiter({ maxRps: 50, slots: databaseSlots(b) });
      await other.acquire();
      one.onRateLimited({ scope: "app" });
      // Recorded in the database by the time the other asks for its next slot.
      await new Promise((resolve) => setTimeout(resolve, 200));
      const started = Date.now();
      await other.acquire();
      const waited = Date.now() - started;
      assert(waited >= 1_100, `the other invocation went after ${waited} ms, inside the pause`);
      assert(waited < 3_000, `the other invocation waited ${waited} ms for a 1.5 s pause`);
      // A per-user limit is that account's: nobody else pauses.
      await new Promise((resolve) => setTimeout(resolve, 300));
      one.onRateLimited({ scope: "account" });
      await new Promise((resolve) => setTimeout(resolve, 200));
      const again = Date.now();
      await other.acquire();
      assert(Date.now() - again < 500, "a per-user limit paused the other invocation");
    } finally {
      await Promise.all([a.end(), b.end()]);
    }
  },
});

Deno.test({
  name:
    "a limiter whose callers come straight back claims send times several at a time, not per slot",
  sanitizeResources: false,
  fn: async () => {
    const sql = await invocationDb();
    try {
      const limiter = new RateLimiter({ maxRps: 200, slots: databaseSlots(sql) });
      const end = Date.now() + 1_500;
      // As the sync with an API that answers at once: every caller queues again straight away,
      // so the queue refills as fast as slots are used.
      await Promise.all(Array.from({ length: 40 }, async () => {
        while (Date.now() < end) await limiter.acquire();
      }));
      const { granted, slotClaims } = limiter.stats();
      assert(granted >= 150, `${granted} grants in 1.5 s at 200/s`);
      // A claim when 40 callers are half a batch (CLAIM_AHEAD_MS of 190/s: 29 slots) short of
      // their slots, about one per 15 slots; it was one per slot or two.
      assert(slotClaims <= granted / 10, `${slotClaims} claims for ${granted} grants`);
    } finally {
      await sql.end();
    }
  },
});
