// The local functions host behaves like the Edge Runtime: 404 for unknown functions, JWT
// verification per config.toml, BOOT_ERROR for a function that cannot load, the platform's
// variables, EdgeRuntime.waitUntil work outliving the response, and the platform's limits
// (wall clock, CPU time, memory) enforced by killing the invocation, background work included.
import { join } from "node:path";
import { assert, assertEquals } from "../helpers/assert.ts";
import { eventually, startOwnHost, testStack, testStackEnv } from "../helpers/stack.ts";
import { startRecorder } from "../helpers/http-recorder.ts";
import { type HostHandle, startFunctionsHost } from "../../local-stack/functions-host/host.ts";
import { PROJECT_ROOT, stackConfigFromEnv } from "../../local-stack/stack/config.ts";
import { readHostOptions } from "../../local-stack/stack/stack.ts";
import { signJwt } from "../../local-stack/functions-host/jwt.ts";

const WALL_CLOCK_LIMIT_MS = 2000;
const JWT_SECRET = "test-jwt-secret-with-enough-length";

/** The platform's limits, as the stack sets them by default. */
const HOSTED_LIMITS = {
  wallClockLimitMs: WALL_CLOCK_LIMIT_MS,
  cpuLimitMs: 2000,
  memoryLimitMb: 256,
};

async function withHost(
  fn: (host: HostHandle, logs: string[]) => Promise<void>,
  limits: Partial<typeof HOSTED_LIMITS> = {},
) {
  const logs: string[] = [];
  const host = startFunctionsHost({
    port: 0,
    functionsDirs: [join(PROJECT_ROOT, "tests", "fixtures", "functions")],
    ...HOSTED_LIMITS,
    ...limits,
    functionEnv: {
      PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
      HOME: Deno.env.get("HOME") ?? "/root",
      SUPABASE_URL: "http://127.0.0.1:1",
      SYNC_BATCH_SIZE: "7",
    },
    jwtSecret: JWT_SECRET,
    log: (line) => logs.push(line),
  });
  try {
    await fn(host, logs);
  } finally {
    await host.close();
  }
}

Deno.test("functions host answers 404 for a function that does not exist", async () => {
  await withHost(async (host) => {
    const response = await fetch(`${host.url}/no-such-function`, { method: "POST" });
    assertEquals(response.status, 404);
    assertEquals((await response.json()).code, "NOT_FOUND");
  });
});

Deno.test("functions host verifies the JWT unless config.toml sets verify_jwt = false", async () => {
  await withHost(async (host) => {
    const anonymous = await fetch(`${host.url}/jwt-required`);
    assertEquals(anonymous.status, 401);
    await anonymous.body?.cancel();
    const key = await signJwt(
      { role: "anon", exp: Math.floor(Date.now() / 1000) + 60 },
      JWT_SECRET,
    );
    const signed = await fetch(`${host.url}/jwt-required`, {
      headers: { Authorization: `Bearer ${key}` },
    });
    assertEquals(signed.status, 200);
    assertEquals(await signed.json(), { ok: true });
  });
});

Deno.test("functions host answers 503 BOOT_ERROR when a function fails to load", async () => {
  await withHost(async (host, logs) => {
    const response = await fetch(`${host.url}/broken`, { method: "POST" });
    assertEquals(response.status, 503);
    assertEquals((await response.json()).code, "BOOT_ERROR");
    assert(logs.some((l) => l.includes("CRON_SECRET is required")), "the cause is in the log");
  });
});

Deno.test("functions host gives each invocation only the platform variables and secrets", async () => {
  await withHost(async (host) => {
    const response = await fetch(`${host.url}/env-echo`);
    const body = await response.json();
    assertEquals(body.SUPABASE_URL, "http://127.0.0.1:1");
    assertEquals(body.SYNC_BATCH_SIZE, "7");
    assertEquals(body.hasEdgeRuntime, true);
    assert(!body.names.includes("STACK_NAME"), "the host's own environment does not leak in");
  });
});

Deno.test("functions host keeps EdgeRuntime.waitUntil work running after the response", async () => {
  const callback = startRecorder();
  try {
    await withHost(async (host, logs) => {
      const response = await fetch(`${host.url}/background`, {
        method: "POST",
        body: JSON.stringify({ workMs: 500, callbackUrl: `${callback.url}/done` }),
      });
      const answeredAt = Date.now();
      assertEquals(response.status, 202);
      await response.body?.cancel();
      assertEquals(callback.requests.length, 0, "the work is still going on after the answer");
      const request = await eventually(
        "the background work to report",
        () => callback.requests[0],
      );
      assert(request.at >= answeredAt, "the callback came after the response");
      await eventually(
        "the invocation to end",
        () => host.activeInvocations() === 0 || undefined,
      );
      assert(logs.some((l) => /shutdown reason=EventLoopCompleted/.test(l)));
    });
  } finally {
    await callback.close();
  }
});

Deno.test("functions host cuts EdgeRuntime.waitUntil work at the wall-clock limit", async () => {
  const callback = startRecorder();
  try {
    await withHost(async (host, logs) => {
      const started = Date.now();
      const response = await fetch(`${host.url}/background`, {
        method: "POST",
        body: JSON.stringify({
          workMs: WALL_CLOCK_LIMIT_MS * 3,
          callbackUrl: `${callback.url}/done`,
        }),
      });
      assertEquals(response.status, 202);
      await response.body?.cancel();
      await eventually(
        "the invocation to be killed",
        () => host.activeInvocations() === 0 || undefined,
      );
      const killedAfter = Date.now() - started;
      assert(killedAfter < WALL_CLOCK_LIMIT_MS * 2, `killed after ${killedAfter} ms`);
      assertEquals(callback.requests.length, 0, "work past the limit never completes");
      assert(logs.some((l) => /shutdown reason=WallClockTime/.test(l)));
    });
  } finally {
    await callback.close();
  }
});

Deno.test("functions host terminates an invocation past the wall-clock limit with 546 WORKER_LIMIT", async () => {
  await withHost(async (host, logs) => {
    const started = Date.now();
    const response = await fetch(`${host.url}/sleepy?ms=${WALL_CLOCK_LIMIT_MS * 5}`);
    const elapsed = Date.now() - started;
    assertEquals(response.status, 546);
    assertEquals((await response.json()).code, "WORKER_LIMIT");
    assert(elapsed < WALL_CLOCK_LIMIT_MS * 2, `answered after ${elapsed} ms`);
    assert(logs.some((l) => /\[sleepy \w+\] shutdown reason=WallClockTime/.test(l)));
  });
});

/** The figures of the invocation's shutdown line (`[<name> <id>] shutdown reason=...`). */
function shutdownLine(logs: string[], name: string) {
  const line = logs.find((l) => l.startsWith(`[${name} `) && l.includes("] shutdown reason="));
  if (!line) return undefined;
  const field = (key: string) => new RegExp(`\\b${key}=(\\S+)`).exec(line)?.[1];
  return {
    reason: field("reason"),
    wallMs: Number(field("wall_ms")),
    cpuMs: Number(field("cpu_ms")),
    bootCpuMs: Number(field("boot_cpu_ms")),
    peakRssMb: Number(field("peak_rss_mb")),
  };
}

Deno.test("functions host logs every invocation's CPU time and peak memory at shutdown", async () => {
  await withHost(async (host, logs) => {
    const response = await fetch(`${host.url}/cpu-burner?ms=300`);
    assertEquals(response.status, 200);
    await response.body?.cancel();
    const shutdown = await eventually("the shutdown line", () => shutdownLine(logs, "cpu-burner"));
    assertEquals(shutdown.reason, "EventLoopCompleted");
    // Boot included: the process's whole CPU time, at least the 300 ms it burned.
    assert(shutdown.cpuMs >= 300 && shutdown.cpuMs < 2000, `cpu_ms=${shutdown.cpuMs}`);
    assert(
      shutdown.bootCpuMs > 0 && shutdown.bootCpuMs <= shutdown.cpuMs - 300,
      `boot_cpu_ms=${shutdown.bootCpuMs}`,
    );
    assert(shutdown.peakRssMb > 10 && shutdown.peakRssMb < 256, `peak=${shutdown.peakRssMb}`);
  });
});

Deno.test("functions host terminates an invocation past the CPU limit with 546 WORKER_LIMIT", async () => {
  const cpuLimitMs = 400;
  await withHost(async (host, logs) => {
    const response = await fetch(`${host.url}/cpu-burner?ms=20000`);
    assertEquals(response.status, 546);
    assertEquals((await response.json()).code, "WORKER_LIMIT");
    const shutdown = await eventually("the shutdown line", () => shutdownLine(logs, "cpu-burner"));
    assertEquals(shutdown.reason, "CPUTime");
    // Killed promptly: within a few samples of the limit.
    assert(
      shutdown.cpuMs >= cpuLimitMs && shutdown.cpuMs < cpuLimitMs + 300,
      `cpu_ms=${shutdown.cpuMs}`,
    );
  }, { cpuLimitMs, wallClockLimitMs: 30_000 });
});

Deno.test("functions host counts EdgeRuntime.waitUntil work against the CPU limit", async () => {
  await withHost(async (host, logs) => {
    const response = await fetch(`${host.url}/cpu-burner?ms=20000&background=1`);
    assertEquals(response.status, 202);
    await response.body?.cancel();
    const shutdown = await eventually(
      "the background work to be killed",
      () => shutdownLine(logs, "cpu-burner"),
      20_000,
    );
    assertEquals(shutdown.reason, "CPUTime");
    assert(shutdown.wallMs < 20_000, `killed after ${shutdown.wallMs} ms`);
  }, { cpuLimitMs: 400, wallClockLimitMs: 30_000 });
});

Deno.test("functions host terminates an invocation past the memory limit with 546 WORKER_LIMIT", async () => {
  const memoryLimitMb = 150;
  await withHost(async (host, logs) => {
    const response = await fetch(`${host.url}/memory-hog?mb=1024`);
    assertEquals(response.status, 546);
    assertEquals((await response.json()).code, "WORKER_LIMIT");
    const shutdown = await eventually("the shutdown line", () => shutdownLine(logs, "memory-hog"));
    assertEquals(shutdown.reason, "Memory");
    assert(
      shutdown.peakRssMb > memoryLimitMb && shutdown.peakRssMb < 1024,
      `peak_rss_mb=${shutdown.peakRssMb}`,
    );
  }, { memoryLimitMb, cpuLimitMs: 20_000, wallClockLimitMs: 30_000 });
});

Deno.test("the stack's functions host enforces the platform's CPU and memory limits by default", async () => {
  const stack = await testStack();
  const options = readHostOptions(stackConfigFromEnv(testStackEnv()).dir);
  // Never more lenient than the platform (2 s, 256 MB): every test runs under its limits.
  assert(options.cpuLimitMs <= 2000, `cpuLimitMs=${options.cpuLimitMs}`);
  assert(options.memoryLimitMb <= 256, `memoryLimitMb=${options.memoryLimitMb}`);
  const response = await fetch(`${stack.functionsUrl}/cpu-burner?ms=20000`);
  assertEquals(response.status, 546);
  assertEquals((await response.json()).code, "WORKER_LIMIT");
});

Deno.test("scheduled-sync boots on a small share of the CPU limit (no type-checking at start)", async () => {
  const logs: string[] = [];
  const host = await startOwnHost({ log: (line) => logs.push(line) });
  try {
    // A CORS preflight: boot and a 204 answer, no work.
    const response = await fetch(`${host.url}/scheduled-sync`, { method: "OPTIONS" });
    assertEquals(response.status, 204);
    assertEquals(response.headers.get("access-control-allow-origin"), "*");
    await response.body?.cancel();
    const shutdown = await eventually(
      "the shutdown line",
      () => shutdownLine(logs, "scheduled-sync"),
    );
    // About 100 ms here (Deno, zod, postgres.js and the shared modules); type-checking at
    // start would cost over 1 s and 200 MB on the first invocation after a change.
    assert(shutdown.bootCpuMs > 0 && shutdown.bootCpuMs < 400, `boot_cpu_ms=${shutdown.bootCpuMs}`);
    assert(shutdown.peakRssMb < 128, `peak_rss_mb=${shutdown.peakRssMb}`);
  } finally {
    await host.close();
  }
});

Deno.test("the stack's functions host serves the real health function with the platform variables", async () => {
  const stack = await testStack();
  const denied = await fetch(`${stack.functionsUrl}/health`, {
    headers: { Authorization: "Bearer wrong-secret" },
  });
  assertEquals(denied.status, 401);
  await denied.body?.cancel();
  const response = await fetch(`${stack.functionsUrl}/health`, {
    headers: { Authorization: `Bearer ${stack.cronSecret}` },
  });
  assertEquals(response.status, 200);
  const body = await response.json();
  assertEquals(body.status, "ok");
  assert(
    /^\d{14}$/.test(body.database.latestMigration),
    "SUPABASE_DB_URL reaches the migrated database",
  );
  assertEquals(body.threadsApiBaseUrl, stack.threadsApiBaseUrl);
});
