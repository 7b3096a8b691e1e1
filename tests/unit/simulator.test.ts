// The Threads API simulator: deterministic worlds, Graph-shaped answers and errors, a clock
// tests can move, fault rules, request counters, and the control API other processes use.
import { assert, assertEquals, assertMatch, assertNotEquals } from "../helpers/assert.ts";
import { type SimulatorOptions, startSimulator } from "../../local-stack/simulator/server.ts";
import { type FaultRule, FaultSet } from "../../local-stack/simulator/faults.ts";
import { RequestStats } from "../../local-stack/simulator/request-stats.ts";
import {
  apiRateSummary,
  readSimulatorStats,
  resetSimulatorStats,
} from "../../bench/lib/simulator-stats.ts";

const START = "2026-06-01T12:00:00Z";
const DAY = 86_400_000;

type Sim = Awaited<ReturnType<typeof startSimulator>>;

async function withSim(options: SimulatorOptions, fn: (sim: Sim) => Promise<void>) {
  const sim = await startSimulator({ startTime: START, frozenClock: true, ...options });
  try {
    await fn(sim);
  } finally {
    await sim.close();
  }
}

/** GET a Graph path with the token in the query; returns status, headers and parsed body. */
async function graph(sim: Sim, path: string, token?: string, init: RequestInit = {}) {
  const url = new URL(sim.url + path);
  if (token) url.searchParams.set("access_token", token);
  const response = await fetch(url, init);
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch { /* left as text */ }
  // deno-lint-ignore no-explicit-any
  return { status: response.status, headers: response.headers, body: body as any };
}

async function control(sim: Sim, method: string, path: string, body?: unknown) {
  const response = await fetch(`${sim.origin}/_simulator${path}`, {
    method,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  // deno-lint-ignore no-explicit-any
  return { status: response.status, body: await response.json() as any };
}

Deno.test("one seed and start time give the same world; another seed a different one", async () => {
  const snapshot = async (seed: number) => {
    let result: unknown;
    await withSim({ seed, accounts: 3, posts: 20 }, async (sim) => {
      const token = sim.account(2).token;
      const list = await graph(sim, "/me/threads?fields=id,text,timestamp&limit=100", token);
      const insights = await graph(
        sim,
        `/${list.body.data[5].id}/insights?metric=views,likes`,
        token,
      );
      result = { accounts: sim.accounts(), list: list.body.data, insights: insights.body };
    });
    return result;
  };
  const a = await snapshot(42);
  assertEquals(await snapshot(42), a);
  assertNotEquals(await snapshot(43), a);
});

Deno.test("the profile and posts have the documented shapes and formats", async () => {
  await withSim({ seed: 3, accounts: 1, posts: 5 }, async (sim) => {
    const { id, username, token } = sim.account(0);
    const me = await graph(sim, "/me?fields=id,username,is_verified", token);
    assertEquals(me.body.id, id);
    assertEquals(me.body.username, username);
    assertMatch(id, /^\d{17}$/);
    assertMatch(token, /^TH/);
    const list = await graph(
      sim,
      "/me/threads?fields=id,timestamp,media_product_type,owner",
      token,
    );
    const post = list.body.data[0];
    assertMatch(post.id, /^\d{17}$/);
    assertMatch(post.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
    assertEquals(post.media_product_type, "THREADS");
    // Only what was asked for (plus id).
    assertEquals(Object.keys(list.body.data[1]).filter((k) => k === "text"), []);
    // The token also works as a Bearer header, and unversioned paths answer too.
    const bearer = await fetch(`${sim.origin}/me`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assertEquals((await bearer.json()).id, id);
  });
});

Deno.test("pages are newest first with opaque cursors, and next only while more remain", async () => {
  await withSim({ seed: 5, accounts: 1, posts: 60 }, async (sim) => {
    const token = sim.account(0).token;
    let page = await graph(sim, "/me/threads?fields=id,timestamp&limit=25", token);
    const ids: string[] = [];
    const times: number[] = [];
    for (let n = 0; n < 10; n++) {
      ids.push(...page.body.data.map((p: { id: string }) => p.id));
      times.push(...page.body.data.map((p: { timestamp: string }) => Date.parse(p.timestamp)));
      const next = page.body.paging.next;
      if (!next) break;
      assertMatch(next, /access_token=/);
      page = await graph(sim, next.slice(sim.url.length));
    }
    assertEquals(ids.length, 60);
    assertEquals(new Set(ids).size, 60);
    assert(times.every((t, i) => i === 0 || t < times[i - 1]), "newest first");
    assertEquals(sim.stats().byEndpoint.threads, 3);
    // The limit is capped at 100; a negative limit is refused.
    assertEquals((await graph(sim, "/me/threads?limit=500", token)).body.data.length, 60);
    const bad = await graph(sim, "/me/threads?limit=-1", token);
    assertEquals([bad.status, bad.body.error.code], [400, 100]);
  });
});

Deno.test("the clock moves metrics forward; new posts have no insights for ten minutes", async () => {
  await withSim({ seed: 9, accounts: 1, posts: 10 }, async (sim) => {
    const before = sim.posts(0).filter((p) => p.metrics);
    sim.advanceClock(DAY);
    const after = sim.posts(0).filter((p) => p.metrics);
    for (const post of before) {
      const later = after.find((p) => p.id === post.id)!;
      for (const [name, value] of Object.entries(post.metrics!)) {
        assert(later.metrics![name] >= value, `${name} fell`);
      }
    }
    assert(after.some((p, i) => p.metrics!.views > before[i].metrics!.views));

    const token = sim.account(0).token;
    const [fresh] = sim.publish(0);
    const list = await graph(sim, "/me/threads", token);
    assertEquals(list.body.data[0].id, fresh);
    const none = await graph(sim, `/${fresh}/insights?metric=views,likes`, token);
    assertEquals(none.body, { data: [] });
    sim.advanceClock(11 * 60_000);
    const some = await graph(sim, `/${fresh}/insights?metric=views,likes`, token);
    assertEquals(some.body.data.map((m: { name: string }) => m.name), ["views", "likes"]);
    assertEquals(some.body.data[0].period, "lifetime");
    assertEquals(typeof some.body.data[0].values[0].value, "number");
  });
});

Deno.test("errors have the Graph shape: bad token, expired token, unknown object, bad metric", async () => {
  await withSim({ seed: 1, accounts: 1, posts: 3 }, async (sim) => {
    const token = sim.account(0).token;
    const invalid = await graph(sim, "/me", "THnope");
    assertEquals([invalid.status, invalid.body.error.code], [400, 190]);
    assertEquals(invalid.body.error.type, "OAuthException");
    assert(invalid.body.error.fbtrace_id);
    assertEquals((await graph(sim, "/me")).body.error.code, 2500);
    const missing = await graph(sim, "/18999999999999999/insights?metric=views", token);
    assertEquals([missing.body.error.code, missing.body.error.error_subcode], [100, 33]);
    const postId = sim.posts(0)[1].id;
    const metric = await graph(sim, `/${postId}/insights?metric=clicks`, token);
    assertEquals(metric.body.error.code, 100);
    sim.advanceClock(61 * DAY);
    const expired = await graph(sim, "/me", token);
    assertEquals([expired.body.error.code, expired.body.error.error_subcode], [190, 463]);
    assertMatch(expired.body.error.message, /Session has expired/);
  });
});

Deno.test("the 24-hour budget answers code 17 over HTTP 400 until a day has passed", async () => {
  await withSim({
    seed: 1,
    accounts: 2,
    posts: 3,
    faults: [{ kind: "daily_budget", calls: 5 }],
  }, async (sim) => {
    const [a, b] = sim.accounts();
    for (let i = 0; i < 5; i++) assertEquals((await graph(sim, "/me", a.token)).status, 200);
    sim.advanceClock(12 * 3_600_000);
    const limited = await graph(sim, "/me", a.token);
    assertEquals([limited.status, limited.body.error.code], [400, 17]);
    assertEquals(Number(limited.headers.get("retry-after")), 12 * 3600);
    const usage = JSON.parse(limited.headers.get("x-business-use-case-usage")!);
    assertEquals(usage[a.id][0].estimated_time_to_regain_access, 720);
    assertEquals((await graph(sim, "/me", b.token)).status, 200, "b has its own budget");
    sim.advanceClock(12 * 3_600_000);
    assertEquals((await graph(sim, "/me", a.token)).status, 200);
    const stats = sim.stats();
    assertEquals(stats.rateLimited, 1);
    assertEquals(stats.rateLimitedByAccount, { [a.id]: 1 });
  });
});

Deno.test("the per-second limit can answer 429, and the counters see every request", async () => {
  await withSim({
    seed: 1,
    accounts: 1,
    posts: 3,
    faults: [{ kind: "rate_limit", rps: 5, burst: 5, status: 429, code: 613 }],
  }, async (sim) => {
    const token = sim.account(0).token;
    const answers = await Promise.all(
      Array.from({ length: 12 }, () => graph(sim, "/me", token)),
    );
    const limited = answers.filter((a) => a.status === 429);
    assert(limited.length >= 6, `${limited.length} limited`);
    assertEquals(limited[0].body.error.code, 613);
    assertEquals(limited[0].headers.get("retry-after"), "1");
    const stats = sim.stats();
    assertEquals(stats.requests, 12);
    assertEquals(stats.byEndpoint.profile, 12);
    assertEquals(stats.rateLimited, limited.length);
    assertEquals(stats.peakRps, 12);
    sim.resetStats();
    assertEquals(sim.stats().requests, 0);
  });
});

Deno.test("the strict limit admits N in any sliding second and frees capacity only as the oldest request leaves", () => {
  const faults = new FaultSet(1);
  const rule = faults.add({ kind: "app_rate_limit", rps: 5 }) as FaultRule<"app_rate_limit">;
  const burst = (at: number, n: number) =>
    Array.from({ length: n }, () => faults.admitWindow(rule, at)).filter(Boolean).length;
  // 3 at 0.1 s, then a burst at 0.9 s: only 2 more fit that second.
  assertEquals(burst(100, 3), 3);
  assertEquals(burst(900, 5), 2);
  // At 1.05 s a counter reset at second boundaries would admit 5; the window (50, 1050] still
  // holds 5, so nothing until the first request is a full second old.
  assertEquals(burst(1050, 5), 0);
  assertEquals(burst(1099.9, 1), 0);
  assertEquals(burst(1100, 5), 3);
  // The burst at 0.9 s leaves the window at exactly 1.9 s.
  assertEquals(burst(1899, 5), 0);
  assertEquals(burst(1900, 5), 2);
  assertEquals(burst(2100, 5), 3);
  // Refused requests used no capacity: after a quiet second all 5 fit again.
  assertEquals(burst(3100, 9), 5);
});

Deno.test("the strict limit answers code 4 over HTTP 400 with no stated wait; the stats count the rate per account", async () => {
  await withSim({ seed: 1, accounts: 2, posts: 3 }, async (sim) => {
    const fault = await control(sim, "POST", "/faults", { kind: "app_rate_limit", rps: 6 });
    assertEquals([fault.status, fault.body.kind, fault.body.rps], [201, "app_rate_limit", 6]);
    const [a, b] = [sim.account(0), sim.account(1)];
    await resetSimulatorStats(sim.url);
    const order = [a, b, a, b, a, a, b, a, b, a];
    const answers = await Promise.all(order.map((account) => graph(sim, "/me", account.token)));
    const refused = answers.filter((r) => r.status !== 200);
    assertEquals([answers.length - refused.length, refused.length], [6, 4]);
    for (const r of refused) {
      assertEquals(r.status, 400);
      assertEquals(r.body.error.code, 4);
      assertEquals(r.body.error.message, "(#4) Application request limit reached");
      assertEquals(r.headers.get("retry-after"), null);
      assertEquals(r.headers.get("x-app-usage"), null);
      assertEquals(r.headers.get("x-business-use-case-usage"), null);
    }

    const stats = await readSimulatorStats(sim.url);
    assertEquals([stats.requests, stats.admitted, stats.rateLimited], [10, 6, 4]);
    assertEquals(stats.maxAdmittedInAnyWindow, 6);
    assertEquals(stats.rateLimitedByCode, { "4": 4 });
    // All arrived within one second, so each account's busiest window holds all it was admitted.
    const admitted: Record<string, number> = {};
    answers.forEach((r, i) => {
      if (r.status === 200) admitted[order[i].id] = (admitted[order[i].id] ?? 0) + 1;
    });
    assertEquals(stats.maxAdmittedInAnyWindowByAccount, admitted);
    assertEquals(stats.admittedPerSecond.reduce((x, y) => x + y, 0), 6);
    const rate = apiRateSummary(stats, 6, 2000);
    assertEquals([rate.boundMs, rate.shareOfLimit, rate.rateLimitShare], [1000, 0.5, 0.4]);

    await resetSimulatorStats(sim.url);
    const reset = await readSimulatorStats(sim.url);
    assertEquals([reset.admitted, reset.maxAdmittedInAnyWindow, reset.rateLimited], [0, 0, 0]);
    assertEquals([reset.admittedPerSecond, reset.maxAdmittedInAnyWindowByAccount], [[], {}]);
  });
});

Deno.test("the strict limit counts a request when it arrives, not when its latency ends", async () => {
  await withSim({
    seed: 1,
    accounts: 2,
    posts: 1,
    faults: [{ kind: "app_rate_limit", rps: 2 }],
  }, async (sim) => {
    const [slow, fast] = [sim.account(0), sim.account(1)];
    sim.addFault({ kind: "latency", ms: 300, userId: slow.id });
    const first = graph(sim, "/me", slow.token);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const later = await Promise.all([graph(sim, "/me", fast.token), graph(sim, "/me", fast.token)]);
    assertEquals((await first).status, 200);
    assertEquals(later.map((r) => r.status).sort(), [200, 400]);
    assertEquals(sim.stats().rateLimitedByAccount, { [fast.id]: 1 });
  });
});

Deno.test("the stats give the most admitted requests in any sliding second, per second and per account", () => {
  let now = 5_000;
  const stats = new RequestStats(() => now);
  const admit = (account: string, at: number) => {
    stats.request("profile", account, at);
    stats.admitted(account, at);
  };
  // Seconds since the reset: 0 | 0.5 | 0.999 | 1.0 | 1.499 (a and b), refused ones not admitted.
  for (const [account, at] of [["a", 0], ["a", 500], ["b", 999], ["a", 1000], ["b", 1499]]) {
    admit(account as string, 5_000 + (at as number));
  }
  stats.request("profile", "b", 6_600);
  stats.rateLimited("b", 4);
  stats.request("profile", "a", 6_700);
  stats.rateLimited("a", 17);
  now = 8_000;
  const s = stats.snapshot();
  // (499, 1499] holds 500, 999, 1000 and 1499; no window holds all five.
  assertEquals(s.maxAdmittedInAnyWindow, 4);
  assertEquals(s.admittedPerSecond, [3, 2]);
  assertEquals(s.maxAdmittedInAnyWindowByAccount, { a: 2, b: 2 });
  assertEquals(s.rateLimitedByCode, { "4": 1, "17": 1 });
  assertEquals([s.requests, s.admitted, s.peakRps, s.elapsedMs], [7, 5, 5, 3000]);
});

Deno.test("SIMULATOR_STRICT_RPS installs the strict limit when the simulator process starts", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "local-stack/simulator/cli.ts", "--port", "0", "--accounts", "1"],
    env: { SIMULATOR_STRICT_RPS: "200" },
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    await reader.cancel();
    const { origin } = JSON.parse(text.split("\n")[0]);
    const state = await (await fetch(`${origin}/_simulator/state`)).json();
    assertEquals(state.faults.map((f: FaultRule) => [f.kind, "rps" in f ? f.rps : 0]), [[
      "app_rate_limit",
      200,
    ]]);
  } finally {
    child.kill("SIGTERM");
    await child.status;
  }
});

Deno.test("transient faults are drawn from a seeded sequence, so a rerun fails the same requests", async () => {
  const pattern = async () => {
    const statuses: number[] = [];
    await withSim({
      seed: 11,
      accounts: 1,
      posts: 1,
      faults: [{ kind: "transient", rate: 0.4 }],
    }, async (sim) => {
      for (let i = 0; i < 20; i++) {
        statuses.push((await graph(sim, "/me", sim.account(0).token)).status);
      }
    });
    return statuses;
  };
  const first = await pattern();
  assertEquals(await pattern(), first);
  assert(first.includes(500) && first.includes(200), String(first));
});

Deno.test("faults target one account and retire after count; down fails everything", async () => {
  await withSim({ seed: 1, accounts: 2, posts: 2 }, async (sim) => {
    const [a, b] = sim.accounts();
    sim.addFault({ kind: "token_revoked", userId: a.username, count: 1 });
    assertEquals((await graph(sim, "/me", a.token)).body.error.error_subcode, 460);
    assertEquals((await graph(sim, "/me", b.token)).status, 200);
    assertEquals((await graph(sim, "/me", a.token)).status, 200, "the rule retired");
    sim.addFault({ kind: "down" });
    assertEquals((await graph(sim, "/me", b.token)).status, 503);
    sim.clearFaults();
    assertEquals((await graph(sim, "/me", b.token)).status, 200);
  });
});

Deno.test("an error fault with echoToken quotes the request's token in its message", async () => {
  await withSim({ seed: 1, accounts: 1, posts: 2 }, async (sim) => {
    const token = sim.account(0).token;
    sim.addFault({ kind: "error", code: 100, message: "(#100) Bad request", echoToken: true });
    const answer = await graph(sim, "/me", token);
    assertEquals([answer.status, answer.body.error.code], [400, 100]);
    assertEquals(answer.body.error.message, `(#100) Bad request (access token: ${token})`);
  });
});

Deno.test("odd_values puts odd values into a well-formed answer; oversized pads a body to size", async () => {
  await withSim({ seed: 1, accounts: 1, posts: 5 }, async (sim) => {
    const token = sim.account(0).token;
    sim.addFault({
      kind: "odd_values",
      endpoints: ["threads"],
      item: 1,
      values: { media_type: "weird type", id: "9".repeat(100) },
    });
    const page = await graph(sim, "/me/threads?fields=id,media_type,timestamp", token);
    assertEquals(page.body.data[1].media_type, "weird type");
    assertEquals(page.body.data[1].id, "9".repeat(100));
    assertNotEquals(page.body.data[0].media_type, "weird type");
    const postId = sim.posts(0).find((p) => p.metrics)!.id;
    sim.addFault({ kind: "odd_values", endpoints: ["post_insights"], values: { likes: -5 } });
    const insights = await graph(sim, `/${postId}/insights?metric=views,likes`, token);
    assertEquals(insights.body.data[1].values, [{ value: -5 }]);
    assert(insights.body.data[0].values[0].value >= 0);
    sim.addFault({
      kind: "odd_values",
      endpoints: ["user_insights"],
      values: { followers_count: 1.5 },
    });
    const user = await graph(sim, "/me/threads_insights?metric=followers_count", token);
    assertEquals(user.body.data[0].total_value, { value: 1.5 });
    sim.addFault({
      kind: "odd_values",
      endpoints: ["refresh_token"],
      values: { expires_in: 1e12 },
    });
    sim.advanceClock(DAY);
    const refresh = await graph(sim, "/refresh_access_token?grant_type=th_refresh_token", token);
    assertEquals(refresh.body.expires_in, 1e12);
    sim.addFault({
      kind: "malformed",
      variant: "oversized",
      bytes: 100_000,
      endpoints: ["profile"],
    });
    const response = await fetch(`${sim.url}/me?access_token=${token}`);
    const text = await response.text();
    assertEquals(text.length, 100_000);
    assertEquals(JSON.parse(text).id, sim.account(0).id);
  });
});

Deno.test("a hanging request is released when the simulator closes", async () => {
  const sim = await startSimulator({ seed: 1, accounts: 1, posts: 1, faults: [{ kind: "hang" }] });
  const pending = fetch(`${sim.url}/me?access_token=${sim.account(0).token}`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await sim.close();
  const response = await pending;
  await response.body?.cancel();
  assertEquals(response.status, 200);
});

Deno.test("the control API drives the simulator from another process", async () => {
  await withSim({ seed: 2, accounts: 2, posts: 4 }, async (sim) => {
    const accounts = await control(sim, "GET", "/accounts");
    assertEquals(accounts.body.length, 2);
    assertEquals(accounts.body[0].token, sim.account(0).token);

    const added = await control(sim, "POST", "/accounts", { count: 2, posts: 7 });
    assertEquals([added.status, added.body.accounts.length, added.body.accounts[1].posts], [
      201,
      2,
      7,
    ]);
    await control(sim, "POST", `/accounts/${sim.account(0).id}/posts`, { count: 12 });
    assertEquals(sim.posts(0).length, 12);
    const published = await control(
      sim,
      "POST",
      `/accounts/${sim.account(1).username}/publish`,
      {},
    );
    assertEquals(sim.posts(1)[0].id, published.body.ids[0]);

    const before = sim.now().getTime();
    const advanced = await control(sim, "POST", "/clock/advance", { hours: 2, minutes: 30 });
    assertEquals(Date.parse(advanced.body.now) - before, 9_000_000);

    const fault = await control(sim, "POST", "/faults", { kind: "latency", ms: 5 });
    assertEquals([fault.status, fault.body.id, fault.body.kind], [201, "f1", "latency"]);
    const bad = await control(sim, "POST", "/faults", { kind: "transient", rate: 3 });
    assertEquals(bad.status, 400);
    assertMatch(bad.body.detail, /^rate: /);
    assertEquals((await control(sim, "GET", "/state")).body.faults.length, 1);
    assertEquals((await control(sim, "DELETE", "/faults/f1")).body.removed, 1);

    await graph(sim, "/me", sim.account(0).token);
    assertEquals((await control(sim, "GET", "/stats")).body.requests, 1);
    await control(sim, "POST", "/stats/reset");
    assertEquals((await control(sim, "GET", "/stats")).body.requests, 0);
    const truth = await control(sim, "GET", `/posts/${sim.posts(0)[3].id}`);
    assertEquals(truth.body.metrics, sim.posts(0)[3].metrics);
    assertEquals((await control(sim, "GET", "/nope")).status, 404);
  });
});

Deno.test("1,000 accounts of 40 posts and one of 5,000 start and page quickly", async () => {
  const started = performance.now();
  await withSim({ seed: 1, accounts: 1000, posts: 40, postCounts: { 0: 5000 } }, async (sim) => {
    assertEquals(sim.accounts().length, 1000);
    assertEquals(sim.account(999).posts, 40);
    const token = sim.account(0).token;
    let path: string | undefined = "/me/threads?fields=id,timestamp&limit=100";
    let count = 0;
    while (path) {
      const page: { body: { data: unknown[]; paging?: { next?: string } } } = await graph(
        sim,
        path,
        path.includes("access_token") ? undefined : token,
      );
      count += page.body.data.length;
      path = page.body.paging?.next?.slice(sim.url.length);
    }
    assertEquals(count, 5000);
  });
  assert(performance.now() - started < 5000, "too slow for the scale test");
});

Deno.test("with a state file, refreshed tokens and the clock survive a restart", async () => {
  const dir = await Deno.makeTempDir();
  const stateFile = `${dir}/simulator-state.json`;
  try {
    let token = "";
    let now = 0;
    await withSim({ seed: 4, accounts: 2, posts: 3, stateFile }, async (sim) => {
      const refreshed = await graph(
        sim,
        "/refresh_access_token?grant_type=th_refresh_token",
        sim.account(1).token,
      );
      token = refreshed.body.access_token;
      assertEquals(refreshed.body.expires_in, 5_184_000);
      now = sim.advanceClock(DAY).getTime();
    });
    await withSim({ seed: 99, accounts: 9, stateFile }, async (sim) => {
      assertEquals(sim.accounts().length, 2);
      assertEquals(sim.account(1).token, token);
      assertEquals((await graph(sim, "/me", token)).body.id, sim.account(1).id);
      assertEquals(sim.now().getTime(), now);
    });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
