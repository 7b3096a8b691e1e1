// The shared limiter: many callers share one budget, in order, without polling; it slows
// down when the API pushes back and climbs back gradually. Time is a FakeClock: no sleeps.
import { assert, assertEquals } from "../helpers/assert.ts";
import { FakeClock } from "../helpers/fake-clock.ts";
import { RateLimiter } from "../../supabase/functions/_shared/threads/rate-limiter.ts";
import { readUsageHeaders } from "../../supabase/functions/_shared/threads/usage-headers.ts";

/** Starts `n` acquires at once and records when (clock time) and in which order each is granted. */
function race(limiter: RateLimiter, clock: FakeClock, n: number) {
  const grants: { caller: number; at: number }[] = [];
  const done = Array.from(
    { length: n },
    (_, caller) => limiter.acquire().then(() => grants.push({ caller, at: clock.now() })),
  );
  return { grants, all: Promise.all(done) };
}

Deno.test("the limiter paces many concurrent callers at the ceiling, first come first served", async () => {
  const clock = new FakeClock();
  const start = clock.now();
  const limiter = new RateLimiter({ maxRps: 10, burst: 1, clock });
  const { grants, all } = race(limiter, clock, 25);
  await clock.tick(999);
  // One at once, then one every 100 ms: 10 within the first second.
  assertEquals(grants.length, 10);
  await clock.tick(2000);
  await all;
  assertEquals(grants.map((g) => g.caller), Array.from({ length: 25 }, (_, i) => i));
  const gaps = grants.slice(1).map((g, i) => g.at - grants[i].at);
  assert(gaps.every((gap) => gap === 100), `gaps were ${gaps}`);
  assertEquals(grants[24].at - start, 2400);
  assertEquals(clock.pendingTimers, 0, "an idle limiter must leave no timer behind");
});

Deno.test("the limiter uses the whole budget: a burst, then exactly the rate", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ maxRps: 50, burst: 5, clock });
  const { grants, all } = race(limiter, clock, 100);
  await clock.tick(0);
  assertEquals(grants.length, 5, "the burst goes at once");
  await clock.tick(1000);
  assertEquals(grants.length, 55, "then 50 per second");
  await clock.tick(1000);
  await all;
  const stats = limiter.stats();
  assertEquals(stats.granted, 100);
  assertEquals(stats.queued, 0);
  assert(stats.waitedMs > 0 && stats.maxWaitMs <= 1900, JSON.stringify(stats));
});

Deno.test("a queue of waiters costs one timer per grant, not a polling loop", async () => {
  const clock = new FakeClock();
  let timersSet = 0;
  const counting = Object.assign(Object.create(clock), {
    setTimeout: (fn: () => void, ms: number) => {
      timersSet++;
      return clock.setTimeout(fn, ms);
    },
    clearTimeout: (h: unknown) => clock.clearTimeout(h),
    now: () => clock.now(),
  });
  const limiter = new RateLimiter({ maxRps: 20, burst: 1, clock: counting });
  const { all } = race(limiter, clock, 40);
  await clock.tick(5000);
  await all;
  assert(timersSet <= 40, `set ${timersSet} timers for 39 waits`);
});

Deno.test("with maxBatchWaitMs one wake-up lets a batch go: a tenth of the timers, the same rate", async () => {
  const clock = new FakeClock();
  const start = clock.now();
  let timersSet = 0;
  const counting = Object.assign(Object.create(clock), {
    setTimeout: (fn: () => void, ms: number) => {
      timersSet++;
      return clock.setTimeout(fn, ms);
    },
    clearTimeout: (h: unknown) => clock.clearTimeout(h),
    now: () => clock.now(),
  });
  // 200 req/s with a burst of 20 (a window of 95 ms): batches of 10, each waiting <= 50 ms.
  const limiter = new RateLimiter({ maxRps: 200, burst: 20, maxBatchWaitMs: 50, clock: counting });
  const { grants, all } = race(limiter, clock, 420);
  await clock.tick(0);
  assertEquals(grants.length, 20, "the burst goes at once");
  await clock.tick(3000);
  await all;
  // 400 waits at 5 ms each: 2,000 ms, the last one exactly on time; ~40 wake-ups, not 400.
  assertEquals(grants.at(-1)!.at - start, 2000);
  assert(timersSet <= 45, `set ${timersSet} timers for 400 waits`);
  assertEquals(grants.map((g) => g.caller), Array.from({ length: 420 }, (_, i) => i));
  // Never ahead of the budget: in any second, at most the rate plus the burst.
  for (const g of grants) {
    const inWindow = grants.filter((h) => h.at >= g.at && h.at < g.at + 1000).length;
    assert(inWindow <= 200 + 20, `${inWindow} grants in the second from ${g.at - start} ms`);
  }
  // And no grant more than 50 ms after the time exact pacing would give it.
  grants.slice(20).forEach((g, i) => {
    const exact = (i + 1) * 5;
    assert(g.at - start - exact <= 50, `grant ${i + 20} at ${g.at - start} ms, due ${exact}`);
  });
  assertEquals(clock.pendingTimers, 0);
});

Deno.test("an app-level rate limit pauses everyone, halves the rate, then recovers step by step", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ maxRps: 10, burst: 1, clock, recoveryIntervalMs: 1000 });
  limiter.onRateLimited({ retryAfterMs: 2000, scope: "app" });
  // Twenty answers of one burst are one event: still halved once.
  for (let i = 0; i < 20; i++) limiter.onRateLimited({ scope: "app" });
  assertEquals(limiter.stats().slowdowns, 1);
  assertEquals(limiter.stats().rateLimitSignals, 21);
  const { grants, all } = race(limiter, clock, 3);
  await clock.tick(1999);
  assertEquals(grants.length, 0, "nobody goes during the pause");
  await clock.tick(1);
  assertEquals(grants.length, 1);
  assertEquals(limiter.rateAt(), 5);
  await clock.tick(199);
  assertEquals(grants.length, 1, "the halved rate: one per 200 ms");
  await clock.tick(1);
  assertEquals(grants.length, 2);
  await clock.tick(200);
  await all;
  // Recovery: a tenth of the ceiling per second after the pause.
  await clock.tick(600);
  assertEquals(limiter.rateAt(), 6);
  await clock.tick(4000);
  assertEquals(limiter.rateAt(), 10);
});

Deno.test("a per-user limit (Graph 17) is counted but does not slow other accounts", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ maxRps: 10, clock });
  limiter.onRateLimited({ retryAfterMs: 3_600_000, scope: "account" });
  assertEquals(limiter.rateAt(), 10);
  assertEquals(await limiter.acquire(), 0);
  assertEquals(limiter.stats().rateLimitSignals, 1);
});

Deno.test("a long wait named by the API pauses the shared limiter for at most maxPauseMs", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ maxRps: 10, clock, maxPauseMs: 5000 });
  limiter.onRateLimited({ retryAfterMs: 86_400_000 });
  const { grants, all } = race(limiter, clock, 1);
  await clock.tick(5000);
  await all;
  assertEquals(grants.length, 1);
});

Deno.test("usage headers near the limit hold the rate at 75 % and halve it at 90 %", () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ maxRps: 20, clock });
  limiter.onUsage(50);
  assertEquals(limiter.rateAt(), 20);
  limiter.onUsage(95);
  assertEquals(limiter.rateAt(), 10);
  limiter.onUsage(80);
  assertEquals(limiter.rateAt(), 10);
});

Deno.test("an aborted waiter leaves the queue and later callers move up", async () => {
  const clock = new FakeClock();
  const limiter = new RateLimiter({ maxRps: 1, burst: 1, clock });
  await limiter.acquire();
  const controller = new AbortController();
  const aborted = limiter.acquire(controller.signal).then(() => "granted", () => "aborted");
  const next = limiter.acquire();
  controller.abort();
  assertEquals(await aborted, "aborted");
  await clock.tick(1000);
  assertEquals(await next, 1000);
  assertEquals(clock.pendingTimers, 0);
});

Deno.test("readUsageHeaders reads x-app-usage and the time to regain access", () => {
  const headers = new Headers({
    "x-app-usage": JSON.stringify({ call_count: 28, total_time: 91, total_cputime: 25 }),
    "x-business-use-case-usage": JSON.stringify({
      "123": [{ type: "threads", call_count: 100, estimated_time_to_regain_access: 15 }],
    }),
  });
  assertEquals(readUsageHeaders(headers), { appUsagePercent: 91, regainAccessMs: 900_000 });
  assertEquals(readUsageHeaders(new Headers({ "x-app-usage": "not json" })), {});
});
