// The Threads API client against the simulator (in-process, 127.0.0.1, port 0): what the sync
// gets back, which failures are retried and which are not, and that the token never leaks.
import { assert, assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { RateLimiter } from "../../supabase/functions/_shared/threads/rate-limiter.ts";
import { createLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { ThreadsApiError } from "../../supabase/functions/_shared/threads/errors.ts";
import {
  ThreadsApiClient,
  type ThreadsApiClientOptions,
} from "../../supabase/functions/_shared/threads-api.ts";
import { type SimulatorOptions, startSimulator } from "../../local-stack/simulator/server.ts";

const START = "2026-06-01T12:00:00Z";
const DAY = 86_400_000;

/** A simulator, a client for account 0 (backoff sleeps recorded, not slept), then cleanup. */
async function withClient(
  simOptions: SimulatorOptions,
  fn: (ctx: {
    sim: Awaited<ReturnType<typeof startSimulator>>;
    client: ThreadsApiClient;
    token: string;
    sleeps: number[];
    make: (extra?: Partial<ThreadsApiClientOptions>) => ThreadsApiClient;
  }) => Promise<void>,
  clientOptions: Partial<ThreadsApiClientOptions> = {},
) {
  const sim = await startSimulator({
    seed: 7,
    accounts: 2,
    posts: 30,
    startTime: START,
    frozenClock: true,
    ...simOptions,
  });
  const sleeps: number[] = [];
  const token = sim.account(0).token;
  const limiter = new RateLimiter({ maxRps: 1000 });
  const make = (extra: Partial<ThreadsApiClientOptions> = {}) =>
    new ThreadsApiClient({
      baseUrl: sim.url,
      accessToken: token,
      limiter,
      timeoutMs: 2000,
      logger: createLogger({}, () => {}),
      sleep: (ms) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
      ...clientOptions,
      ...extra,
    });
  try {
    await fn({ sim, client: make(), token, sleeps, make });
  } finally {
    await sim.close();
  }
}

async function failure(fn: () => Promise<unknown>): Promise<ThreadsApiError> {
  const error = await assertRejects(fn);
  assert(error instanceof ThreadsApiError, `expected a ThreadsApiError, got ${error}`);
  return error;
}

Deno.test("getProfile reads the token owner's id and username", async () => {
  await withClient({}, async ({ sim, client }) => {
    const profile = await client.getProfile();
    assertEquals(profile.id, sim.account(0).id);
    assertEquals(profile.username, sim.account(0).username);
  });
});

Deno.test("listThreads reads one page when the account fits in it", async () => {
  await withClient({}, async ({ sim, client }) => {
    const posts = await client.listThreads();
    assertEquals(posts.map((p) => p.id), sim.posts(0).map((p) => p.id));
    assertMatch(posts[0].timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
    assertEquals(client.stats().calls, 1);
    assertEquals(sim.stats().byEndpoint.threads, 1);
  });
});

Deno.test("listThreads follows paging.next over many pages, newest first, each post once", async () => {
  await withClient({ postCounts: { 0: 250 } }, async ({ sim, client }) => {
    const posts = await client.listThreads();
    assertEquals(posts.length, 250);
    assertEquals(posts.map((p) => p.id), sim.posts(0).map((p) => p.id));
    assertEquals(client.stats().pages, 3);
    assertEquals(sim.stats().byEndpoint.threads, 3);
  });
});

Deno.test("listThreads with since returns only posts published at or after it", async () => {
  await withClient({ postCounts: { 0: 120 } }, async ({ sim, client }) => {
    const truth = sim.posts(0);
    const since = new Date(truth[44].publishedAt);
    const posts = await client.listThreads({ since });
    assertEquals(posts.map((p) => p.id), truth.slice(0, 45).map((p) => p.id));
    assert(posts.every((p) => Date.parse(p.timestamp) >= since.getTime()));
  });
});

Deno.test("listThreads keeps going through empty pages that still carry next", async () => {
  await withClient({
    postCounts: { 0: 150 },
    faults: [{ kind: "empty_pages" }],
  }, async ({ sim, client }) => {
    const posts = await client.listThreads();
    assertEquals(posts.length, 150);
    assertEquals(sim.stats().faultsInjected.empty_pages, 2);
  });
});

Deno.test("listThreads de-duplicates a post repeated across pages", async () => {
  await withClient({
    postCounts: { 0: 150 },
    faults: [{ kind: "duplicate_items" }],
  }, async ({ sim, client }) => {
    const posts = await client.listThreads();
    assertEquals(new Set(posts.map((p) => p.id)).size, 150);
    assertEquals(posts.length, 150);
    assert(sim.stats().faultsInjected.duplicate_items >= 1);
  });
});

Deno.test("listThreads stops at its page limit, keeps what it read and says so", async () => {
  await withClient({ postCounts: { 0: 50 } }, async ({ make }) => {
    const client = make({ pageSize: 10, maxPages: 3 });
    const posts = await client.listThreads();
    assertEquals(posts.length, 30);
    assertEquals(client.stats().pages, 3);
    const report = client.takeSkipped();
    assertMatch(report.listingStopped ?? "", /stopped after 3 pages \(MAX_PAGES_PER_LISTING\)/);
    assertEquals(client.takeSkipped(), { items: [] }, "taken once");
    // The option can only lower the constant.
    assertEquals(make({ maxPages: 10_000 }).stats().pages, 0);
  });
});

Deno.test("listThreads leaves out the posts the database could not store, each with its reason", async () => {
  const odd: [number, Record<string, unknown>, RegExp][] = [
    [0, { media_type: "weird type" }, /media_type must be upper-case .*"weird type"/],
    [3, { id: "9".repeat(100) }, /id must be a numeric Graph id of at most 30 digits/],
    [5, { permalink: "javascript:alert(1)" }, /permalink must be an http\(s\) URL/],
    [7, { text: "nul \u0000 inside" }, /text must be text without NUL/],
    [9, { id: 17 }, /id .*current value is 17/],
  ];
  await withClient({
    faults: odd.map(([item, values]) => ({
      kind: "odd_values" as const,
      endpoints: ["threads" as const],
      item,
      values,
    })),
  }, async ({ sim, client }) => {
    const posts = await client.listThreads();
    assertEquals(posts.length, 30 - odd.length);
    const stored = new Set(posts.map((p) => p.id));
    const truth = sim.posts(0);
    assert(truth.filter((p) => !stored.has(p.id)).length === odd.length);
    const { items } = client.takeSkipped();
    assertEquals(items.length, odd.length);
    odd.forEach(([, , reason], i) => assertMatch(items[i].reason, reason, items[i].item));
    assertMatch(items[0].item, /^post \d+$/);
    assertEquals(items[1].item, "post #3 of its page");
  });
});

Deno.test("counts must be non-negative integers: an odd one leaves that capture out", async () => {
  await withClient({}, async ({ sim, client }) => {
    const [first, second] = sim.posts(0).filter((p) => p.metrics !== null);
    sim.addFault({
      kind: "odd_values",
      endpoints: ["post_insights"],
      values: { likes: -5 },
      count: 1,
    });
    assertEquals(await client.getPostInsights(first.id), null);
    sim.addFault({
      kind: "odd_values",
      endpoints: ["post_insights"],
      values: { views: 2 ** 60 },
      count: 1,
    });
    assertEquals(await client.getPostInsights(second.id), null);
    assertEquals(await client.getPostInsights(first.id), first.metrics);
    sim.addFault({
      kind: "odd_values",
      endpoints: ["user_insights"],
      values: { followers_count: 1.5 },
      count: 1,
    });
    assertEquals(await client.getUserInsights(), null);
    assertEquals(client.takeSkipped().items, [
      {
        item: `insights of post ${first.id}`,
        reason: "likes must be a non-negative integer or absent: current value is -5",
      },
      {
        item: `insights of post ${second.id}`,
        reason: `views must be a non-negative integer or absent: current value is ${2 ** 60}`,
      },
      {
        item: "account insights",
        reason: "followers_count must be a non-negative integer or absent: current value is 1.5",
      },
    ]);
  });
});

Deno.test("post insights parse to numbers; a post with no insights yet gives null, not 0", async () => {
  await withClient({}, async ({ sim, client }) => {
    const post = sim.posts(0).find((p) => p.metrics !== null)!;
    assertEquals(await client.getPostInsights(post.id), post.metrics);

    const [fresh] = sim.publish(0);
    assertEquals(await client.getPostInsights(fresh), {
      views: null,
      likes: null,
      replies: null,
      reposts: null,
      quotes: null,
      shares: null,
    });
  });
});

Deno.test("a metric the API leaves out is null while the others keep their values", async () => {
  await withClient({
    faults: [{ kind: "omit_metrics", metrics: ["views", "shares"] }],
  }, async ({ sim, client }) => {
    const post = sim.posts(0).find((p) => p.metrics !== null)!;
    const insights = (await client.getPostInsights(post.id))!;
    assertEquals(insights.views, null);
    assertEquals(insights.shares, null);
    assertEquals(insights.likes, post.metrics!.likes);
  });
});

Deno.test("metrics grow as simulated time passes, so two syncs see different values", async () => {
  await withClient({}, async ({ sim, client }) => {
    const post = sim.posts(0).find((p) => p.metrics !== null)!;
    const before = (await client.getPostInsights(post.id))!;
    sim.advanceClock(2 * DAY);
    const after = (await client.getPostInsights(post.id))!;
    assert(after.views! > before.views!, `${before.views} -> ${after.views}`);
    assert(after.likes! >= before.likes!);
  });
});

Deno.test("user insights read window totals, link clicks and the follower count", async () => {
  await withClient({}, async ({ sim, client }) => {
    const now = sim.now().getTime();
    const insights = (await client.getUserInsights({ since: now - 7 * DAY, until: now }))!;
    for (const metric of ["views", "likes", "replies", "reposts", "quotes", "clicks"] as const) {
      assert(typeof insights[metric] === "number", `${metric} = ${insights[metric]}`);
    }
    assert(insights.followers_count! >= 50);
    assertEquals(
      insights.views,
      insights.views_by_day.reduce((sum, day) => sum + day.value, 0),
    );
    sim.advanceClock(30 * DAY);
    const later = (await client.getUserInsights())!;
    assert(later.followers_count! >= insights.followers_count!);
  });
});

Deno.test("refreshAccessToken returns a new 60-day token that works", async () => {
  await withClient({}, async ({ sim, client, token, make }) => {
    const refreshed = await client.refreshAccessToken();
    assert(refreshed.accessToken !== token);
    assertEquals(refreshed.expiresInSeconds, 60 * 86_400);
    assertEquals(sim.stats().byEndpoint.refresh_token, 1);
    const profile = await make({ accessToken: refreshed.accessToken }).getProfile();
    assertEquals(profile.id, sim.account(0).id);
  });
});

Deno.test("a refreshed token's lifetime counts for 60 days at most, whatever expires_in says", async () => {
  await withClient({
    faults: [{ kind: "odd_values", endpoints: ["refresh_token"], values: { expires_in: 1e12 } }],
  }, async ({ client }) => {
    const refreshed = await client.refreshAccessToken();
    assertEquals(refreshed.expiresInSeconds, 60 * 86_400);
  });
});

Deno.test("a body over the size limit is a bad_response naming the limit, not retried", async () => {
  await withClient({
    faults: [{ kind: "malformed", variant: "oversized", bytes: 5 * 1024 * 1024, count: 1 }],
  }, async ({ client }) => {
    const error = await failure(() => client.listThreads());
    assertEquals([error.kind, error.status], ["bad_response", 200]);
    assertMatch(error.message, /larger than the limit of 4194304 bytes \(MAX_RESPONSE_BYTES\)/);
    assertEquals(client.stats().retries, 0);
    // The next answer, of normal size, is read as usual.
    assertEquals((await client.listThreads()).length, 30);
  });
});

Deno.test("auth, permission, permanent and not-found errors are classified and not retried", async () => {
  await withClient({}, async ({ sim, client, make, token }) => {
    const expired = sim.addFault({ kind: "token_expired", token });
    let error = await failure(() => client.getProfile());
    assertEquals([error.kind, error.code, error.subcode, error.status], [
      "auth_expired",
      190,
      463,
      400,
    ]);
    assert(error.fbtraceId);
    sim.removeFault(expired);

    sim.addFault({ kind: "token_revoked", token, count: 1 });
    error = await failure(() => client.listThreads());
    assertEquals([error.kind, error.subcode], ["auth_expired", 460]);

    error = await failure(() => make({ accessToken: "THnot-a-real-token" }).getProfile());
    assertEquals([error.kind, error.code], ["auth_expired", 190]);

    sim.addFault({ kind: "error", code: 10, subcode: 4279067, count: 1 });
    error = await failure(() => client.getUserInsights());
    assertEquals(error.kind, "permission");

    sim.addFault({ kind: "error", code: 100, message: "(#100) Invalid parameter", count: 1 });
    error = await failure(() => client.getProfile());
    assertEquals([error.kind, error.graphMessage], ["permanent", "(#100) Invalid parameter"]);

    error = await failure(() => client.getPostInsights("18999999999999999"));
    assertEquals([error.kind, error.code, error.subcode], ["not_found", 100, 33]);
    assertMatch(
      error.message,
      /^Cannot read the post's insights \(GET \/v1\.0\/18999999999999999\/insights\) as/,
    );

    assertEquals(client.stats().retries, 0);
  });
});

Deno.test("transient failures are retried with backoff and the call then succeeds", async () => {
  await withClient({
    faults: [{ kind: "transient", count: 2 }],
  }, async ({ sim, client, sleeps }) => {
    const profile = await client.getProfile();
    assertEquals(profile.id, sim.account(0).id);
    const stats = client.stats();
    assertEquals([stats.calls, stats.retries, stats.failures], [3, 2, 0]);
    // Full jitter under a doubling cap: 0-250 ms, then 0-500 ms.
    assertEquals(sleeps.length, 2);
    assert(sleeps[0] < 250 && sleeps[1] < 500, `slept ${sleeps}`);
  });
});

Deno.test("after the bounded retries the client gives up with a clear transient error", async () => {
  await withClient({ faults: [{ kind: "transient", status: 503 }] }, async ({ client }) => {
    const error = await failure(() => client.getProfile());
    assertEquals([error.kind, error.code, error.status, error.attempts], ["transient", 2, 503, 4]);
    assertMatch(error.message, /^Cannot read the account's profile .* after 4 attempts$/);
    assertEquals(client.stats().calls, 4);
    assertEquals(client.stats().failures, 1);
  });
});

Deno.test("a request that hangs past the timeout is aborted and retried", async () => {
  await withClient({
    faults: [{ kind: "hang", ms: 5000, count: 1 }],
  }, async ({ sim, make }) => {
    const client = make({ timeoutMs: 150 });
    const started = performance.now();
    const profile = await client.getProfile();
    assertEquals(profile.id, sim.account(0).id);
    assert(performance.now() - started < 2000);
    assertEquals(client.stats().retries, 1);
  });
});

Deno.test("a timeout on every attempt ends as transient, naming the timeout", async () => {
  await withClient({ faults: [{ kind: "hang", ms: 5000 }] }, async ({ make }) => {
    const error = await failure(() => make({ timeoutMs: 50, maxRetries: 1 }).getProfile());
    assertEquals(error.kind, "transient");
    assertMatch(error.message, /no complete answer came within 50 ms.*after 2 attempts/);
  });
});

Deno.test("a network failure is transient and its message has no URL", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const token = "THQVnetwork-secret";
  const client = new ThreadsApiClient({
    baseUrl: `http://127.0.0.1:${port}/v1.0`,
    accessToken: token,
    limiter: new RateLimiter({ maxRps: 100 }),
    maxRetries: 1,
    sleep: () => Promise.resolve(),
    logger: createLogger({}, () => {}),
  });
  const error = await failure(() => client.getProfile());
  assertEquals(error.kind, "transient");
  assertMatch(error.message, /failed on the network/);
  assert(!error.message.includes(token) && !error.message.includes("127.0.0.1"), error.message);
});

Deno.test("malformed bodies become bad_response errors naming the endpoint, without retry", async () => {
  await withClient({}, async ({ sim, client }) => {
    const expectations: [string, RegExp][] = [
      ["html", /the body was HTML, not JSON/],
      ["truncated", /not valid JSON .*possibly truncated/],
      ["empty", /not valid JSON \(0 bytes\)/],
    ];
    for (const [variant, pattern] of expectations) {
      sim.addFault({
        kind: "malformed",
        variant: variant as "html",
        endpoints: ["threads"],
        count: 1,
      });
      const error = await failure(() => client.listThreads());
      assertEquals(error.kind, "bad_response", variant);
      assertMatch(error.message, /\(GET \/v1\.0\/me\/threads\)/);
      assertMatch(error.message, pattern);
    }
    assertEquals(client.stats().retries, 0);
    // A page's shape is the body's; a post without its id is only that post's problem.
    sim.addFault({ kind: "malformed", variant: "missing_field", endpoints: ["user_insights"] });
    const error = await failure(() => client.getUserInsights());
    assertEquals(error.kind, "bad_response");
    assertMatch(error.message, /did not have the documented shape: data\[0\]\.name/);
    sim.addFault({ kind: "malformed", variant: "missing_field", endpoints: ["threads"] });
    assertEquals((await client.listThreads()).length, 29);
    assertMatch(client.takeSkipped().items[0].reason, /^id .*current value is absent$/);
  });
});

Deno.test("a short rate limit with Retry-After is waited out through the limiter, then retried", async () => {
  await withClient({
    faults: [{ kind: "rate_limit", rps: 1, burst: 1, count: 1 }],
  }, async ({ sim, make }) => {
    const limiter = new RateLimiter({ maxRps: 50, maxPauseMs: 1000 });
    const client = make({ limiter });
    await client.getProfile();
    const started = performance.now();
    await client.getProfile();
    const waited = performance.now() - started;
    assert(waited >= 900, `waited only ${waited} ms: the Retry-After of 1 s was not honoured`);
    assertEquals(client.stats().rateLimitErrors, 1);
    assertEquals(client.stats().retries, 1);
    assertEquals(sim.stats().rateLimited, 1);
    assertEquals(limiter.stats().slowdowns, 1);
  });
});

Deno.test("a rate limit that names no wait surfaces at once as rate_limited with a deferral", async () => {
  await withClient({
    faults: [{ kind: "rate_limit", rps: 1, burst: 1, retryAfter: false, code: 613 }],
  }, async ({ client }) => {
    await client.getProfile();
    const error = await failure(() => client.getProfile());
    assertEquals([error.kind, error.code, error.retryAfterMs], ["rate_limited", 613, 60_000]);
    assertEquals(client.stats().calls, 2);
  });
});

Deno.test("an app-level limit that names no wait (code 4) is retried in place after the shared cool-down", async () => {
  await withClient({
    faults: [{ kind: "rate_limit", rps: 1, burst: 1, retryAfter: false, code: 4, count: 1 }],
  }, async ({ sim, make, sleeps }) => {
    const limiter = new RateLimiter({ maxRps: 50, coolDownMs: 300 });
    const client = make({ limiter });
    await client.getProfile();
    const started = performance.now();
    assertEquals((await client.getProfile()).id, sim.account(0).id);
    const waited = performance.now() - started;
    assert(waited >= 280, `retried after ${waited} ms: the cool-down was not waited out`);
    assert(waited < 5_000, `retried after ${waited} ms: far longer than the cool-down`);
    assertEquals([client.stats().rateLimitErrors, client.stats().retries], [1, 1]);
    // The limiter held the retry; the client slept on its own for nothing.
    assertEquals(sleeps, []);
    assertEquals(sim.stats().rateLimited, 1);
  });
});

Deno.test("an app-level limit that keeps refusing gives up with the cool-down, not a minute", async () => {
  await withClient({
    faults: [{ kind: "rate_limit", rps: 0.001, burst: 1, retryAfter: false, code: 4 }],
  }, async ({ make }) => {
    const limiter = new RateLimiter({ maxRps: 50, coolDownMs: 20 });
    const client = make({ limiter, maxAppRateLimitRetries: 2 });
    await client.getProfile();
    const error = await failure(() => client.getProfile());
    assertEquals([error.kind, error.code, error.retryAfterMs], ["rate_limited", 4, 20]);
    assertEquals(error.attempts, 3);
  });
});

Deno.test("a per-user limit that names no wait (code 17, 32) is not retried and defers a minute", async () => {
  for (const code of [17, 32]) {
    await withClient({
      faults: [{ kind: "rate_limit", rps: 0.001, burst: 1, retryAfter: false, code }],
    }, async ({ client }) => {
      await client.getProfile();
      const error = await failure(() => client.getProfile());
      assertEquals([error.kind, error.code, error.retryAfterMs], ["rate_limited", code, 60_000]);
      assertEquals(client.stats().calls, 2);
    });
  }
});

Deno.test("an exhausted 24-hour budget surfaces at once with the wait, then clears a day later", async () => {
  await withClient({
    faults: [{ kind: "daily_budget", calls: 3 }],
  }, async ({ sim, client, make }) => {
    for (let i = 0; i < 3; i++) await client.getProfile();
    const started = performance.now();
    const error = await failure(() => client.getProfile());
    assert(performance.now() - started < 500, "a budget error must not be waited out");
    assertEquals([error.kind, error.code, error.status], ["rate_limited", 17, 400]);
    // The API states a wait of almost a day; a stated wait counts for an hour at most.
    assertEquals(error.retryAfterMs, 3_600_000);
    assertEquals(client.stats().calls, 4);
    // The other account's budget is its own.
    const other = make({ accessToken: sim.account(1).token });
    assertEquals((await other.getProfile()).id, sim.account(1).id);
    sim.advanceClock(DAY);
    assertEquals((await client.getProfile()).id, sim.account(0).id);
  });
});

Deno.test("50 concurrent calls through one limiter stay under the simulator's limit", async () => {
  await withClient({
    faults: [{ kind: "rate_limit", rps: 100, burst: 10 }],
  }, async ({ sim, make }) => {
    // The client's burst stays below the API's, leaving room for network jitter.
    const limiter = new RateLimiter({ maxRps: 100, burst: 5 });
    const clients = [0, 1].map((i) => make({ limiter, accessToken: sim.account(i).token }));
    const posts = [0, 1].flatMap((i) =>
      sim.posts(i).filter((p) => p.metrics).slice(0, 25).map((p) => ({ i, id: p.id }))
    );
    assertEquals(posts.length, 50);
    const results = await Promise.all(posts.map(({ i, id }) => clients[i].getPostInsights(id)));
    assert(results.every((r) => typeof r?.views === "number"));
    assertEquals(sim.stats().rateLimited, 0);
    assertEquals(sim.stats().byEndpoint.post_insights, 50);
    assert(limiter.stats().waitedMs > 0, "the limiter should have queued part of the burst");
  });
});

Deno.test("an upstream error quoting the bare token leaves the client without it", async () => {
  await withClient({}, async ({ sim, client, token }) => {
    for (const endpoints of [["profile"], ["threads"], ["post_insights"]] as const) {
      sim.addFault({
        kind: "error",
        code: 100,
        message: "(#100) Invalid parameter",
        echoToken: true,
        endpoints: [...endpoints],
      });
      const error = await failure(() =>
        endpoints[0] === "profile"
          ? client.getProfile()
          : endpoints[0] === "threads"
          ? client.listThreads()
          : client.getPostInsights(sim.posts(0)[0].id)
      );
      sim.clearFaults();
      assertEquals(error.kind, "permanent");
      assertMatch(error.graphMessage ?? "", /Invalid parameter \(access token: \[redacted\]\)/);
      const text = [error.message, String(error), error.stack ?? "", JSON.stringify({ ...error })]
        .join("\n");
      assert(!text.includes(token), `token leaked in: ${text}`);
    }
  });
});

Deno.test("the token appears in no error message, error property or log line", async () => {
  const lines: string[] = [];
  const original = { log: console.log, warn: console.warn, error: console.error };
  const capture = (...args: unknown[]) => lines.push(args.map(String).join(" "));
  console.log = console.warn = console.error = capture;
  try {
    await withClient({ postCounts: { 0: 60 } }, async ({ sim, make, token }) => {
      // The default logger, which writes to the console captured above.
      const client = make({ logger: undefined });
      const errors: unknown[] = [];
      const attempt = async (fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (error) {
          errors.push(error);
        }
      };
      sim.addFault({ kind: "transient", count: 2 });
      await attempt(() => client.listThreads());
      sim.addFault({ kind: "token_expired", count: 1 });
      await attempt(() => client.getProfile());
      sim.addFault({ kind: "malformed", variant: "truncated", count: 1 });
      await attempt(() => client.listThreads());
      sim.addFault({ kind: "transient", rate: 1, count: 4 });
      await attempt(() => make({ pageSize: 25, logger: undefined }).listThreads());
      await attempt(() => client.getPostInsights(`x?access_token=${token}`));
      assert(errors.length >= 3);
      assert(lines.some((l) => l.includes("threads_api_retry")), "retries should be logged");
      for (const error of errors) {
        const e = error as ThreadsApiError;
        const text = [e.message, String(e), e.stack ?? "", JSON.stringify({ ...e })].join("\n");
        assert(!text.includes(token), `token leaked in: ${text}`);
      }
      for (const line of lines) assert(!line.includes(token), `token leaked in log: ${line}`);
    });
  } finally {
    Object.assign(console, original);
  }
});
