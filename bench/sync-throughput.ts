/**
 * Benchmark (issue 7): how fast a whole sync run goes, and where its time goes, for the seed
 * design and for the product's defaults, measured in the same run against the same simulator
 * and the same database.
 *
 * Workload: N accounts x 40 posts on a dedicated in-process simulator (127.0.0.1, port 0) with
 * 30 ms latency and a 200 requests/second limit (token bucket, one second of burst). The
 * simulator's clock is frozen, so every variant sees the same posts and the same values; the
 * rate limit runs on real time regardless. Each measurement gets a fresh workspace holding
 * exactly its N accounts (first sync: the whole history, every post's insights) and fresh
 * fault rules (a full bucket), and its workspace is erased afterwards.
 *
 *   seed design       bench/sync-baseline.ts in a process of its own: batches of 5 accounts, a
 *                     fixed 2 s pause between batches, each account's calls one after another
 *   product defaults  the real scheduled-sync function, served by a functions host started
 *                     here with the stack's environment, POST {"workspaceId", "wait": true}
 *
 * Both talk to Postgres through a small TCP relay that measures each connection's busy time
 * (from a request's first byte to the server's ReadyForQuery), so "time in the database" is
 * measured the same way for both, bookkeeping queries included.
 *
 *   deno run -A bench/sync-throughput.ts [--sizes 50,200,1000] [--baseline-sizes 50,200]
 * (standalone, against the stack named by STACK_NAME & co., which must be up)
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { startFunctionsHost } from "../local-stack/functions-host/host.ts";
import { readHostOptions } from "../local-stack/stack.ts";
import { connectAccounts } from "../local-stack/demo-accounts.ts";
import { type SimulatorHandle, startSimulator } from "../local-stack/simulator/server.ts";
import { stackConfigFromEnv } from "../local-stack/stack-config.ts";
import { type StackStatus, status } from "../local-stack/stack.ts";
import type { BaselineOptions, BaselineResult } from "./sync-baseline.ts";

const LIMIT_RPS = 200;
const LATENCY_MS = 30;
const POSTS_PER_ACCOUNT = 40;
/**
 * The product's THREADS_API_MAX_RPS here, and the baseline limiter's ceiling: exactly the
 * limit. The limiter's burst (a tenth of a second) fits in the simulator's bucket (a second),
 * so pacing at the limit never runs the bucket dry; a rejection would show in the "429s" column.
 */
const MAX_RPS = 200;
/** Concurrent accounts in both designs (SYNC_BATCH_SIZE's default; the seed's batch size). */
const WORKERS = 5;
/** One invocation does the whole run: a budget far above what 1,000 accounts need. */
const TIME_BUDGET_MS = 600_000;
const WALL_CLOCK_LIMIT_MS = TIME_BUDGET_MS + 60_000;

const BASELINE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "sync-baseline.ts");

export interface SyncThroughputOptions {
  /** Accounts per run of the product (default 50, 200, 1000). */
  sizes?: number[];
  /** Accounts per run of the seed design (default 50, 200; 1,000 would take ~10 minutes). */
  baselineSizes?: number[];
}

type Variant = "seed design" | "product defaults";

interface Measurement {
  variant: Variant;
  accounts: number;
  accountsOk: number;
  wallMs: number;
  apiCalls: number;
  rejections: number;
  peakRps: number;
  /** From the first to the last API request the simulator saw (sampled every 100 ms). */
  apiWindowMs: number;
  /** Before the first API request: process start, boot, run start. */
  leadInMs: number;
  db: DbProxyStats;
  /** CPU time (user + system) of the process doing the sync. */
  cpuMs: number;
  peakRssMb: number;
  posts: number;
  snapshots: number;
  detail: Record<string, unknown>;
}

export async function runSyncThroughputBench(
  stack: StackStatus,
  options: SyncThroughputOptions = {},
): Promise<{ rows: Record<string, string | number>[]; notes: string[] }> {
  const sizes = options.sizes ?? [50, 200, 1000];
  const baselineSizes = options.baselineSizes ?? [50, 200];
  const maxAccounts = Math.max(...sizes, ...baselineSizes);
  const stackHost = readHostOptions(dirname(stack.logsDir));
  const tokenKey = stackHost.functionEnv.TOKEN_ENCRYPTION_KEY;
  const cronSecret = stackHost.functionEnv.CRON_SECRET;
  const logFile = join(stack.logsDir, "bench-sync-throughput.log");
  Deno.writeTextFileSync(logFile, "");
  const logs: string[] = [];
  const flushLogs = () => {
    Deno.writeTextFileSync(logFile, logs.join("\n") + "\n", { append: true });
    logs.length = 0;
  };

  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  const cleanups: (() => Promise<unknown>)[] = [async () => await sql.end()];
  const measurements: Measurement[] = [];
  try {
    // The 15-minute cron sync would sync these accounts too (through the stack's own host and
    // simulator) if a tick fell inside the bench: pause it, restore it after.
    const paused = await sql<{ jobid: string }[]>`
      select jobid::text from cron.job where jobname = 'scheduled-sync' and active`;
    for (const { jobid } of paused) {
      await sql`select cron.alter_job(${jobid}::bigint, active => false)`;
    }
    cleanups.unshift(async () => {
      for (const { jobid } of paused) {
        await sql`select cron.alter_job(${jobid}::bigint, active => true)`;
      }
    });

    const sim = await startSimulator({
      seed: 7,
      accounts: maxAccounts,
      posts: POSTS_PER_ACCOUNT,
      frozenClock: true,
    });
    cleanups.unshift(() => sim.close());
    const proxy = startDbProxy(stack.dbUrl);
    cleanups.unshift(() => proxy.close());

    const functionEnv = { ...stackHost.functionEnv };
    // The product's defaults for the pool and the pause, whatever the stack was started with.
    delete functionEnv.SYNC_BATCH_SIZE;
    delete functionEnv.SYNC_BATCH_DELAY_MS;
    const host = startFunctionsHost({
      ...stackHost,
      port: 0,
      wallClockLimitMs: WALL_CLOCK_LIMIT_MS,
      functionEnv: {
        ...functionEnv,
        SUPABASE_DB_URL: proxy.url,
        THREADS_API_BASE_URL: sim.url,
        THREADS_API_MAX_RPS: String(MAX_RPS),
        SYNC_TIME_BUDGET_MS: String(TIME_BUDGET_MS),
        SYNC_WALL_CLOCK_LIMIT_MS: String(WALL_CLOCK_LIMIT_MS),
      },
      log: (line) => logs.push(line),
    });
    cleanups.unshift(() => host.close());
    // Should a run hand off after all, its continuation must reach this host, as in
    // tests/integration/sync-survives.test.ts.
    const [{ secret: previousUrl }] =
      await sql`select secret from vault.secrets where name = 'project_url'`;
    await sql`update vault.secrets set secret = ${`http://127.0.0.1:${host.port}`}
      where name = 'project_url'`;
    cleanups.unshift(() =>
      sql`update vault.secrets set secret = ${previousUrl} where name = 'project_url'`
    );

    const label = crypto.randomUUID().slice(0, 8);
    const plan = [...new Set([...baselineSizes, ...sizes])].sort((a, b) => a - b).flatMap((n) => [
      ...(baselineSizes.includes(n) ? [["seed design", n] as const] : []),
      ...(sizes.includes(n) ? [["product defaults", n] as const] : []),
    ]);
    for (const [variant, n] of plan) {
      const { workspaceId } = await connectAccounts(
        stack.dbUrl,
        tokenKey,
        sim.accounts().slice(0, n),
        `bench:sync-throughput:${label}:${variant}:${n}`,
      );
      try {
        resetWorkload(sim);
        proxy.reset();
        const watch = watchRequests(sim);
        const cpu = watchChildCpu(variant === "seed design" ? BASELINE_SCRIPT : "invocation.ts");
        const started = performance.now();
        const run = await (variant === "seed design"
          ? runSeedDesign(workspaceId, proxy.url, sim.url, tokenKey, logs)
          : runProduct(host, sql, workspaceId, cronSecret, logs)).finally(() => {
            watch.stop();
            cpu.stop();
          });
        const wallMs = run.endedAt - started;
        const window = watch.stop();
        const simStats = sim.stats();
        measurements.push({
          variant,
          accounts: n,
          accountsOk: run.accountsOk,
          wallMs,
          apiCalls: simStats.requests,
          rejections: simStats.rateLimited,
          peakRps: simStats.peakRps,
          apiWindowMs: window.last - window.first,
          leadInMs: window.first - started,
          db: proxy.stats(),
          cpuMs: cpu.stop(),
          peakRssMb: run.peakRssMb,
          ...await writtenRows(sql, workspaceId),
          detail: run.detail,
        });
      } finally {
        flushLogs();
        await sql`select public.erase_workspace(${workspaceId})`;
      }
    }
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
  return report(measurements, logFile);
}

/** Fresh rules for every measurement: a full bucket, as after a quiet minute. */
function resetWorkload(sim: SimulatorHandle) {
  sim.clearFaults();
  sim.addFault({ kind: "latency", ms: LATENCY_MS });
  sim.addFault({ kind: "rate_limit", rps: LIMIT_RPS });
  sim.resetStats();
}

/** When the simulator saw its first and last request (100 ms resolution). */
function watchRequests(sim: SimulatorHandle) {
  let seen = 0;
  let first = NaN;
  let last = NaN;
  const timer = setInterval(() => {
    const requests = sim.stats().requests;
    if (requests > seen) {
      const now = performance.now();
      if (Number.isNaN(first)) first = now;
      last = now;
      seen = requests;
    }
  }, 100);
  return {
    stop() {
      clearInterval(timer);
      return { first, last };
    },
  };
}

/**
 * CPU time (user + system) of this process's children whose command line mentions `script`,
 * summed over them: /proc/<pid>/stat sampled every 200 ms, so up to 0.2 s of a process's last
 * moments can be missed.
 */
function watchChildCpu(script: string) {
  const ticks = new Map<number, number>();
  const sample = () => {
    for (const entry of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(entry.name)) continue;
      try {
        const stat = Deno.readTextFileSync(`/proc/${entry.name}/stat`);
        // Fields after the command name (which may hold spaces): state ppid ... utime stime.
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        if (Number(fields[1]) !== Deno.pid) continue;
        if (!Deno.readTextFileSync(`/proc/${entry.name}/cmdline`).includes(script)) continue;
        ticks.set(Number(entry.name), Number(fields[11]) + Number(fields[12]));
      } catch { /* gone */ }
    }
  };
  const timer = setInterval(sample, 200);
  return {
    stop() {
      clearInterval(timer);
      // Clock ticks are 1/100 s on Linux.
      return [...ticks.values()].reduce((sum, t) => sum + t, 0) * 10;
    },
  };
}

interface RunOutcome {
  /** performance.now() when the result was in: the process ended, or the answer came. */
  endedAt: number;
  accountsOk: number;
  peakRssMb: number;
  detail: Record<string, unknown>;
}

/** (a) The seed design, in its own process (bench/sync-baseline.ts). */
async function runSeedDesign(
  workspaceId: string,
  dbUrl: string,
  threadsApiBaseUrl: string,
  tokenKey: string,
  logs: string[],
): Promise<RunOutcome> {
  const options: BaselineOptions = { dbUrl, workspaceId, threadsApiBaseUrl, maxRps: MAX_RPS };
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--no-prompt", BASELINE_SCRIPT, JSON.stringify(options)],
    env: { TOKEN_ENCRYPTION_KEY: tokenKey },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const endedAt = performance.now();
  const stdout = new TextDecoder().decode(output.stdout).trim();
  logs.push(`[seed design] ${stdout}`, new TextDecoder().decode(output.stderr));
  if (!output.success) {
    throw new Error(`Cannot measure the seed design as its process failed: see the bench log`);
  }
  const result = JSON.parse(stdout.split("\n").at(-1)!) as BaselineResult;
  return {
    endedAt,
    accountsOk: result.completed,
    peakRssMb: result.peakRssMb,
    detail: {
      batches: result.batches,
      pausedMs: result.pausedMs,
      innerWallMs: result.wallMs,
      failed: result.failed,
      errors: result.errors,
    },
  };
}

/** (b) The real scheduled-sync function, one manual run of the workspace, waited for. */
async function runProduct(
  host: ReturnType<typeof startFunctionsHost>,
  sql: postgres.Sql,
  workspaceId: string,
  cronSecret: string,
  logs: string[],
): Promise<RunOutcome> {
  const firstLine = logs.length;
  const response = await fetch(`${host.url}/scheduled-sync`, {
    method: "POST",
    headers: { Authorization: `Bearer ${cronSecret}`, "content-type": "application/json" },
    body: JSON.stringify({ workspaceId, wait: true }),
  });
  const body = await response.json();
  let endedAt = performance.now();
  if (![200, 202].includes(response.status) || !body.runId) {
    throw new Error(
      `Cannot measure the product as scheduled-sync answered ${response.status}: ${
        JSON.stringify(body)
      }`,
    );
  }
  // 202: the run handed off after all; its continuations come back to this host.
  for (let waited = 0; response.status === 202; waited += 250) {
    const [run] = await sql`select status from public.system_job_logs where id = ${body.runId}`;
    endedAt = performance.now();
    if (run.status !== "running") break;
    if (waited > WALL_CLOCK_LIMIT_MS * 2) throw new Error(`run ${body.runId} did not finish`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  // The host logs each invocation's peak memory once its process has exited.
  for (let i = 0; i < 100 && host.activeInvocations() > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const peaks = logs.slice(firstLine).map((l) => /peak_rss_mb=([\d.]+)/.exec(l)?.[1])
    .filter((v) => v !== undefined).map(Number);
  const [run] = await sql`select status, invocations, metadata from public.system_job_logs
    where id = ${body.runId}`;
  const [progress] = await sql`select * from public.run_progress(${body.runId})`;
  const m = run.metadata ?? {};
  return {
    endedAt,
    accountsOk: progress.completed,
    peakRssMb: Math.max(0, ...peaks),
    detail: {
      status: run.status,
      invocations: run.invocations,
      handoffs: m.handoffs ?? 0,
      progress,
      apiCallsReported: m.api_calls,
      limiterWaitMs: m.api_limiter_wait_ms,
      rateLimitErrors: m.api_rate_limit_errors,
      stepMs: {
        posts: m.sync_posts_ms,
        metrics: m.sync_metrics_ms,
        accountInsights: m.sync_account_insights_ms,
      },
    },
  };
}

async function writtenRows(sql: postgres.Sql, workspaceId: string) {
  const [row] = await sql<{ posts: number; snapshots: number }[]>`
    select count(distinct p.id)::int as posts, count(m.id)::int as snapshots
    from public.workspace_threads_accounts a
    join public.workspace_threads_posts p on p.workspace_threads_account_id = a.id
    left join public.workspace_threads_post_metrics m on m.workspace_threads_post_id = p.id
    where a.workspace_id = ${workspaceId}`;
  return row;
}

// --- Time in the database: a relay that times each connection's requests ----------------------

export interface DbProxyStats {
  /** Sum over connections of the time a request was outstanding (connection-milliseconds). */
  busyMs: number;
  /** Requests completed (ReadyForQuery messages), connection start-ups included. */
  roundTrips: number;
  connections: number;
  /** Connections whose protocol could not be followed (TLS); their time is not counted. */
  unmeasured: number;
}

/**
 * A TCP relay on 127.0.0.1 in front of Postgres. A connection is busy from the first byte of a
 * request it sends while idle until the server's ReadyForQuery ('Z') that answers its last
 * outstanding Sync or Query. postgres.js with `prepare: false` sends Parse/Describe/Flush, then
 * Bind/Execute/Sync: both legs fall inside one busy interval. So busy time is what the caller
 * waits on the database (server work plus the loopback round trips), summed over connections.
 */
function startDbProxy(dbUrl: string) {
  const target = new URL(dbUrl);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const open = new Set<Deno.Conn>();
  let stats: DbProxyStats = { busyMs: 0, roundTrips: 0, connections: 0, unmeasured: 0 };

  const relay = async (client: Deno.Conn) => {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: target.hostname, port: Number(target.port || 5432) });
    } catch {
      client.close();
      return;
    }
    open.add(client).add(server);
    stats.connections++;
    let busySince: number | undefined;
    let outstanding = 0;
    let measured = true;
    const fromClient = new Framer(true);
    const fromServer = new Framer(false);
    const up = pump(client, server, (chunk) => {
      if (!measured) return;
      busySince ??= performance.now();
      fromClient.feed(chunk, (type, length) => {
        if (type === 0 && length === 8) {
          // SSLRequest/GSSENCRequest: the rest would be encrypted.
          measured = false;
          stats.unmeasured++;
        }
        // 'S' Sync and 'Q' Query each get one ReadyForQuery.
        if (type === 0x53 || type === 0x51) outstanding++;
      });
    });
    const down = pump(server, client, (chunk) => {
      if (!measured) return;
      fromServer.feed(chunk, (type) => {
        if (type !== 0x5a) return;
        stats.roundTrips++;
        outstanding = Math.max(0, outstanding - 1);
        if (outstanding === 0 && busySince !== undefined) {
          stats.busyMs += performance.now() - busySince;
          busySince = undefined;
        }
      });
    });
    await Promise.allSettled([up, down]);
    for (const conn of [client, server]) {
      open.delete(conn);
      try {
        conn.close();
      } catch { /* closed */ }
    }
  };

  (async () => {
    try {
      for await (const client of listener) relay(client);
    } catch { /* listener closed */ }
  })();

  const url = new URL(dbUrl);
  url.host = `127.0.0.1:${listener.addr.port}`;
  return {
    url: url.toString(),
    reset: () => stats = { busyMs: 0, roundTrips: 0, connections: 0, unmeasured: 0 },
    stats: (): DbProxyStats => ({ ...stats }),
    close: () => {
      listener.close();
      for (const conn of open) {
        try {
          conn.close();
        } catch { /* closed */ }
      }
      return Promise.resolve();
    },
  };
}

async function pump(from: Deno.Conn, to: Deno.Conn, onChunk: (chunk: Uint8Array) => void) {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) break;
      const chunk = buffer.subarray(0, n);
      onChunk(chunk);
      for (let sent = 0; sent < n;) sent += await to.write(chunk.subarray(sent));
    }
  } finally {
    try {
      to.closeWrite();
    } catch { /* closed */ }
  }
}

/**
 * Splits a Postgres protocol byte stream into messages (type byte + int32 length, the first
 * client message untyped) and reports each message's type (0 when untyped) and length.
 */
class Framer {
  #header = new Uint8Array(5);
  #have = 0;
  #skip = 0;
  constructor(private untyped: boolean) {}

  feed(chunk: Uint8Array, onMessage: (type: number, length: number) => void) {
    for (let i = 0; i < chunk.length;) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const size = this.untyped ? 4 : 5;
      this.#header[this.#have++] = chunk[i++];
      if (this.#have < size) continue;
      const o = size - 4;
      const length = ((this.#header[o] << 24) | (this.#header[o + 1] << 16) |
        (this.#header[o + 2] << 8) | this.#header[o + 3]) >>> 0;
      onMessage(this.untyped ? 0 : this.#header[0], length);
      this.#skip = length - 4;
      this.#have = 0;
      this.untyped = false;
    }
  }
}

// --- Report ----------------------------------------------------------------------------------

const s = (ms: number) => Number((ms / 1000).toFixed(1));
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

function report(measurements: Measurement[], logFile: string) {
  const rows = measurements.map((m) => ({
    variant: m.variant,
    accounts: m.accounts,
    "ok": m.accountsOk,
    "wall s": s(m.wallMs),
    "ms/account": Math.round(m.wallMs / m.accounts),
    "API calls": m.apiCalls,
    "429s": m.rejections,
    "req/s": Math.round(m.apiCalls / (m.wallMs / 1000)),
    "of limit": Number((m.apiCalls / (m.wallMs / 1000) / LIMIT_RPS).toFixed(2)),
    "of limit, API window": Number((m.apiCalls / (m.apiWindowMs / 1000) / LIMIT_RPS).toFixed(2)),
    "DB s": s(m.db.busyMs),
    "DB ms/account": Number((m.db.busyMs / m.accounts).toFixed(1)),
    "DB share": pct(m.db.busyMs / (WORKERS * m.wallMs)),
    "CPU s": s(m.cpuMs),
    "peak RSS MB": m.peakRssMb,
    "posts/snapshots": `${m.posts}/${m.snapshots}`,
  }));

  const find = (variant: Variant, n: number) =>
    measurements.find((m) => m.variant === variant && m.accounts === n);
  const product = measurements.filter((m) => m.variant === "product defaults");
  const seed = measurements.filter((m) => m.variant === "seed design");
  const notes: string[] = [
    `Workload: N accounts x ${POSTS_PER_ACCOUNT} posts, first sync (whole history, every post's insights), on an in-process simulator with ${LATENCY_MS} ms latency and a ${LIMIT_RPS} req/s token-bucket limit (1 s burst), frozen simulated clock (same posts and values for every variant; the limit runs on real time). Fresh workspace and fresh fault rules per row; erased after.`,
    `seed design: bench/sync-baseline.ts in its own Deno process: batches of ${WORKERS}, 2 s pause between batches, each account's calls one after another (the product's step functions with insight concurrency 1), same ThreadsApiClient with a RateLimiter at ${MAX_RPS} req/s, same DB functions; no run bookkeeping (flatters its DB time).`,
    `product defaults: the real scheduled-sync function (SYNC_BATCH_SIZE 5 workers claiming accounts one by one, 8 insight calls in flight per account, SYNC_BATCH_DELAY_MS 0) in a functions host started here with the stack's environment; two settings differ from the defaults: THREADS_API_MAX_RPS=${MAX_RPS} (default 20, far below this limit) and SYNC_TIME_BUDGET_MS=${TIME_BUDGET_MS} (default 110000) so one invocation does the run; POST {"workspaceId", "wait": true}. The 15-minute cron job was paused during the bench and restored.`,
    `wall s: from starting the process (seed design) or sending the POST (product) to the result, boot included. API calls and 429s: the simulator's counters. "of limit" = API calls / wall / ${LIMIT_RPS}; "of limit, API window" uses the span from the first to the last API request instead (100 ms sampling), i.e. without boot and run set-up.`,
    `DB s: time a connection had a request outstanding (first byte to ReadyForQuery, loopback round trips included), summed over connections, measured by a TCP relay in front of Postgres for both variants (pg_stat_statements is not preloaded in the local cluster). DB share = DB s / (${WORKERS} workers x wall): the part of the workers' time spent waiting on the database.`,
    `CPU s: user + system CPU time of the process doing the sync (function invocation or seed-design process, boot included), from /proc sampled every 200 ms. peak RSS: VmHWM of the process doing the sync: the function's invocation process (the host's peak_rss_mb) or the seed design's process (read from /proc/self/status at its end).`,
  ];

  for (const m of product) {
    const d = m.detail;
    notes.push(
      `product @ ${m.accounts}: status ${d.status}, ${d.invocations} invocation(s), ${d.handoffs} hand-off(s); ${
        m.leadInMs.toFixed(0)
      } ms before the first API request, API window ${s(m.apiWindowMs)} s of ${
        s(m.wallMs)
      } s; limiter waits ${
        s(Number(d.limiterWaitMs ?? 0))
      } s summed over calls; ${m.db.roundTrips} DB round trips (${
        (m.db.roundTrips / m.accounts).toFixed(1)
      }/account) on ${m.db.connections} connections; peak ${m.peakRps} req/s in any 1 s.`,
    );
  }
  for (const m of seed) {
    const d = m.detail;
    notes.push(
      `seed @ ${m.accounts}: ${d.batches} batches, ${s(Number(d.pausedMs))} s of fixed pauses (${
        pct(Number(d.pausedMs) / m.wallMs)
      } of the wall time); ${m.db.roundTrips} DB round trips (${
        (m.db.roundTrips / m.accounts).toFixed(1)
      }/account)${
        Number(d.failed) > 0 ? `; failures: ${(d.errors as string[]).join(" | ")}` : ""
      }.`,
    );
  }

  // The aims of issue 7.
  const a200 = find("seed design", 200);
  const b200 = find("product defaults", 200);
  if (a200 && b200) {
    const speedup = a200.wallMs / b200.wallMs;
    notes.push(
      `Aim "product >= 3x faster than the seed design at 200 accounts": ${speedup.toFixed(2)}x (${
        s(a200.wallMs)
      } s vs ${s(b200.wallMs)} s) — ${speedup >= 3 ? "met" : "MISSED"}.`,
    );
  }
  if (product.length > 0) {
    const worst = product.reduce((a, b) => a.apiCalls / a.wallMs < b.apiCalls / b.wallMs ? a : b);
    const fraction = worst.apiCalls / (worst.wallMs / 1000) / LIMIT_RPS;
    notes.push(
      `Aim "achieved rate >= 0.8 of the limit" (product, over the whole wall time): lowest ${
        fraction.toFixed(2)
      } at ${worst.accounts} accounts — ${fraction >= 0.8 ? "met" : "MISSED"}; ${
        product.map((m) =>
          `${m.accounts}: ${(m.apiCalls / (m.wallMs / 1000) / LIMIT_RPS).toFixed(2)}`
        )
          .join(", ")
      }.`,
    );
    const dbWorst = Math.max(...product.map((m) => m.db.busyMs / (WORKERS * m.wallMs)));
    notes.push(
      `Aim "database time under 10 % of the total" (product): highest DB share ${pct(dbWorst)} — ${
        dbWorst < 0.1 ? "met" : "MISSED"
      }.`,
    );
    if (product.length > 1) {
      const perAccount = product.map((m) => m.wallMs / m.accounts);
      const spread = Math.max(...perAccount) / Math.min(...perAccount);
      notes.push(
        `Aim "time grows linearly" (product): ms/account ${
          product.map((m, i) => `${m.accounts}: ${perAccount[i].toFixed(0)}`).join(", ")
        }; largest/smallest ${spread.toFixed(2)} — ${
          spread <= 1.25 ? "met (within 25 %)" : "MISSED (more than 25 % apart)"
        }.`,
      );
    }
  }
  notes.push(
    `Function and seed-process output: ${logFile}. Machine: 2 shared cores; compare ratios within one run.`,
  );
  return { rows, notes };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { sizes: { type: "string" }, "baseline-sizes": { type: "string" } },
  });
  const list = (v?: string) =>
    v === undefined ? undefined : v.split(",").filter(Boolean).map(Number);
  const stack = await status(stackConfigFromEnv());
  if (stack.services.database !== "running") {
    console.error(`The ${stack.name} stack's database is not running: npm run stack -- up`);
    Deno.exit(2);
  }
  const result = await runSyncThroughputBench(stack, {
    sizes: list(values.sizes),
    baselineSizes: list(values["baseline-sizes"]),
  });
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
