/**
 * Benchmark (issues 7 and 12): how fast a whole sync run goes under the hosted platform's limits,
 * and where its time goes, for the seed design and for the product's defaults, measured in the
 * same run against the same simulator and the same database.
 *
 * Workload: N accounts x 40 posts (W10k: 10,000 x 10) on a dedicated in-process simulator
 * (127.0.0.1, port 0) with 30 ms latency and the strict API's limit: 200 requests in any
 * sliding second, app-wide, answered beyond with Graph code 4 over HTTP 400 and no stated wait.
 * The simulator's clock is frozen, so every variant sees the same posts and the same values; the
 * rate limit runs on real time regardless. Each measurement gets a fresh workspace holding
 * exactly its N accounts (first sync: the whole history, every post's insights) and fresh
 * fault rules, and its workspace is erased afterwards.
 *
 * The baseline of every product row is the API-rate bound: the least wall time the limit allows
 * for the calls the API admitted (admitted / 200 per second). No design can beat it; the row's
 * "x bound" says how close the run came. The functions host enforces the hosted limits of the
 * stack (2 s CPU, 256 MB, 150 s wall per invocation), so the product runs as it would hosted:
 * many short invocations, several side by side, handing off through pg_net.
 *
 *   seed design       bench/lib/sync-baseline.ts in a process of its own: batches of 5 accounts, a
 *                     fixed 2 s pause between batches, each account's calls one after another
 *   product defaults  the real scheduled-sync function, served by a functions host started
 *                     here with the stack's environment and limits, POST {"workspaceId"}; the
 *                     run is followed in the database until it ends
 *
 * Both talk to Postgres through a small TCP relay that measures each connection's busy time
 * (from a request's first byte to the server's ReadyForQuery), so "time in the database" is
 * measured the same way for both, bookkeeping queries included.
 *
 *   deno run -A bench/sync-throughput.ts [--sizes 50,200,1000] [--baseline-sizes 50,200]
 *     [--w10k]   (adds the 10,000 accounts x 10 posts run: about 11 minutes)
 * (standalone, against the stack named by STACK_NAME & co., which must be up)
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { startFunctionsHost } from "../local-stack/functions-host/host.ts";
import { readHostOptions } from "../local-stack/stack/stack.ts";
import { connectAccounts } from "../local-stack/stack/demo-accounts.ts";
import { type SimulatorHandle, startSimulator } from "../local-stack/simulator/server.ts";
import { stackConfigFromEnv } from "../local-stack/stack/config.ts";
import { type StackStatus, status } from "../local-stack/stack/stack.ts";
import type { BaselineOptions, BaselineResult } from "./lib/sync-baseline.ts";
import { type ApiRateSummary, apiRateSummary } from "./lib/simulator-stats.ts";

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
/** W10k: the many-accounts run, fewer posts each. */
const W10K_ACCOUNTS = 10_000;
const W10K_POSTS = 10;
/** The longest a run may take before the bench gives up on it. */
const RUN_TIMEOUT_MS = 30 * 60_000;

const BASELINE_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), "lib", "sync-baseline.ts");

export interface SyncThroughputOptions {
  /** Accounts per run of the product (default 50, 200, 1000). */
  sizes?: number[];
  /** Add the W10k run (10,000 accounts x 10 posts). */
  w10k?: boolean;
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
  /** Product: the invocations that worked the run, from the host's shutdown lines. */
  invocations: InvocationFigures;
  /** Admitted calls, rate-limit answers and the busiest sliding second, from the simulator. */
  rate: ApiRateSummary;
  postsPerAccount: number;
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
    const proxy = startDbProxy(stack.dbUrl);
    cleanups.unshift(() => proxy.close());
    // Hand-offs and side-by-side invocations must reach the bench's host, as in
    // tests/helpers/own-host.ts.
    const [{ secret: previousUrl }] =
      await sql`select secret from vault.secrets where name = 'project_url'`;
    cleanups.unshift(() =>
      sql`update vault.secrets set secret = ${previousUrl} where name = 'project_url'`
    );

    /** A simulator with `accounts` x `posts`, and a functions host of the product talking to it. */
    const world = async (accounts: number, posts: number) => {
      const sim = await startSimulator({ seed: 7, accounts, posts, frozenClock: true });
      const functionEnv = { ...stackHost.functionEnv };
      // The product's defaults for everything the stack's environment may have changed.
      for (const key of Object.keys(functionEnv)) {
        if (key.startsWith("SYNC_")) delete functionEnv[key];
      }
      const host = startFunctionsHost({
        ...stackHost,
        port: 0,
        functionEnv: {
          ...functionEnv,
          SUPABASE_DB_URL: proxy.url,
          THREADS_API_BASE_URL: sim.url,
          THREADS_API_MAX_RPS: String(MAX_RPS),
        },
        log: (line) => logs.push(line),
      });
      await sql`update vault.secrets set secret = ${`http://127.0.0.1:${host.port}`}
        where name = 'project_url'`;
      return { sim, host, close: async () => (await host.close(), await sim.close()) };
    };

    const label = crypto.randomUUID().slice(0, 8);
    const measure = async (
      w: Awaited<ReturnType<typeof world>>,
      variant: Variant,
      n: number,
      postsPerAccount: number,
    ) => {
      const { workspaceId } = await connectAccounts(
        stack.dbUrl,
        tokenKey,
        w.sim.accounts().slice(0, n),
        `bench:sync-throughput:${label}:${variant}:${n}`,
      );
      try {
        resetWorkload(w.sim);
        proxy.reset();
        const watch = watchRequests(w.sim);
        // The seed process's CPU from /proc; the product's comes from the host's shutdown lines.
        const cpu = variant === "seed design" ? watchChildCpu(BASELINE_SCRIPT) : undefined;
        const started = performance.now();
        const run = await (variant === "seed design"
          ? runSeedDesign(workspaceId, proxy.url, w.sim.url, tokenKey, logs)
          : runProduct(w.host, sql, workspaceId, cronSecret, logs)).finally(() => {
            watch.stop();
            cpu?.stop();
          });
        const wallMs = run.endedAt - started;
        const window = watch.stop();
        const simStats = w.sim.stats();
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
          cpuMs: cpu ? cpu.stop() : run.invocations.cpuMs,
          peakRssMb: run.peakRssMb,
          invocations: run.invocations,
          rate: apiRateSummary(simStats, LIMIT_RPS, wallMs),
          postsPerAccount,
          ...await writtenRows(sql, workspaceId),
          detail: run.detail,
        });
      } finally {
        flushLogs();
        await sql`select public.erase_workspace(${workspaceId})`;
      }
    };

    const main = await world(maxAccounts, POSTS_PER_ACCOUNT);
    try {
      const plan = [...new Set([...baselineSizes, ...sizes])].sort((a, b) => a - b).flatMap((
        n,
      ) => [
        ...(baselineSizes.includes(n) ? [["seed design", n] as const] : []),
        ...(sizes.includes(n) ? [["product defaults", n] as const] : []),
      ]);
      for (const [variant, n] of plan) await measure(main, variant, n, POSTS_PER_ACCOUNT);
    } finally {
      await main.close();
    }
    if (options.w10k) {
      const big = await world(W10K_ACCOUNTS, W10K_POSTS);
      try {
        await measure(big, "product defaults", W10K_ACCOUNTS, W10K_POSTS);
      } finally {
        await big.close();
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
  // The strict API: any sliding second, app-wide; code 4 over HTTP 400 and no stated wait.
  sim.addFault({ kind: "app_rate_limit", rps: LIMIT_RPS });
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
  /** performance.now() when the result was in: the process ended, or the run ended. */
  endedAt: number;
  accountsOk: number;
  peakRssMb: number;
  invocations: InvocationFigures;
  detail: Record<string, unknown>;
}

/** What the host's shutdown lines say about the invocations of a product run. */
export interface InvocationFigures {
  count: number;
  /** Killed by a platform limit (CPUTime, Memory, WallClockTime). */
  killed: number;
  killedBy: Record<string, number>;
  cpuMs: number;
  maxCpuMs: number;
  bootCpuMs: number;
  wallMs: number;
  maxPeakRssMb: number;
}

const NO_INVOCATIONS: InvocationFigures = {
  count: 0,
  killed: 0,
  killedBy: {},
  cpuMs: 0,
  maxCpuMs: 0,
  bootCpuMs: 0,
  wallMs: 0,
  maxPeakRssMb: 0,
};

/** Sums the `shutdown reason=... wall_ms= cpu_ms= boot_cpu_ms= peak_rss_mb=` lines. */
export function invocationFigures(lines: string[]): InvocationFigures {
  const figures = { ...NO_INVOCATIONS, killedBy: {} as Record<string, number> };
  for (const line of lines) {
    const reason = /shutdown reason=(\w+)/.exec(line)?.[1];
    if (!reason) continue;
    const num = (key: string) => Number(new RegExp(`${key}=([\\d.]+)`).exec(line)?.[1] ?? 0);
    figures.count++;
    if (["CPUTime", "Memory", "WallClockTime"].includes(reason)) {
      figures.killed++;
      figures.killedBy[reason] = (figures.killedBy[reason] ?? 0) + 1;
    }
    figures.cpuMs += num("cpu_ms");
    figures.maxCpuMs = Math.max(figures.maxCpuMs, num("cpu_ms"));
    figures.bootCpuMs += num("boot_cpu_ms");
    figures.wallMs += num("wall_ms");
    figures.maxPeakRssMb = Math.max(figures.maxPeakRssMb, num("peak_rss_mb"));
  }
  return figures;
}

/** (a) The seed design, in its own process (bench/lib/sync-baseline.ts). */
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
    invocations: NO_INVOCATIONS,
    detail: {
      batches: result.batches,
      pausedMs: result.pausedMs,
      innerWallMs: result.wallMs,
      failed: result.failed,
      errors: result.errors,
    },
  };
}

/**
 * (b) The real scheduled-sync function: one manual run of the workspace, followed in the
 * database until it ends, however many invocations (hand-offs, side by side) it takes.
 */
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
    body: JSON.stringify({ workspaceId }),
  });
  const body = await response.json();
  if (![200, 202].includes(response.status) || !body.runId) {
    throw new Error(
      `Cannot measure the product as scheduled-sync answered ${response.status}: ${
        JSON.stringify(body)
      }`,
    );
  }
  let endedAt = performance.now();
  for (const begun = performance.now();; await new Promise((r) => setTimeout(r, 100))) {
    const [run] = await sql`select status from public.system_job_logs where id = ${body.runId}`;
    endedAt = performance.now();
    if (run.status !== "running") break;
    if (endedAt - begun > RUN_TIMEOUT_MS) throw new Error(`run ${body.runId} did not finish`);
  }
  // The host logs each invocation's CPU and peak memory once its process has exited.
  for (let i = 0; i < 300 && host.activeInvocations() > 0; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const invocations = invocationFigures(logs.slice(firstLine));
  const [run] = await sql`select status, invocations, metadata from public.system_job_logs
    where id = ${body.runId}`;
  const [progress] = await sql`select * from public.run_progress(${body.runId})`;
  // The most invocations at work at once: +1 when one joined, -1 when it left (or was last seen).
  const [{ side_by_side }] = await sql`select coalesce(max(n), 0)::int as side_by_side from (
      select sum(d) over (order by t, d) as n from (
        select started_at as t, 1 as d from public.sync_run_invocations
        where run_id = ${body.runId} and worker not like 'queued:%'
        union all
        select coalesce(ended_at, seen_at), -1 from public.sync_run_invocations
        where run_id = ${body.runId} and worker not like 'queued:%') e) c`;
  const m = run.metadata ?? {};
  return {
    endedAt,
    accountsOk: progress.completed,
    peakRssMb: invocations.maxPeakRssMb,
    invocations,
    detail: {
      status: run.status,
      invocations: run.invocations,
      handoffs: m.handoffs ?? 0,
      sideBySide: side_by_side,
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
  const rows = measurements.map((m) => {
    const product = m.variant === "product defaults";
    return {
      variant: m.variant,
      "accounts x posts": `${m.accounts} x ${m.postsPerAccount}`,
      "ok": m.accountsOk,
      "wall s": s(m.wallMs),
      "ms/account": Math.round(m.wallMs / m.accounts),
      "bound s": s(m.rate.boundMs),
      "x bound": Number((m.wallMs / m.rate.boundMs).toFixed(2)),
      "of limit": Number((m.rate.shareOfLimit ?? 0).toFixed(2)),
      "admitted": m.rate.admitted,
      "rate-limited": m.rejections,
      "max in 1 s": m.rate.maxAdmittedInAnyWindow,
      "invocations": product ? m.invocations.count : "-",
      "killed": product ? m.invocations.killed : "-",
      "CPU ms/account": Number((m.cpuMs / m.accounts).toFixed(1)),
      "peak MB/invocation": m.peakRssMb,
      "DB share": pct(dbShare(m)),
    };
  });

  const product = measurements.filter((m) => m.variant === "product defaults");
  const seed = measurements.filter((m) => m.variant === "seed design");
  const notes: string[] = [
    `Workload: N accounts x ${POSTS_PER_ACCOUNT} posts (W10k: ${W10K_ACCOUNTS} x ${W10K_POSTS}), first sync (whole history, every post's insights), on an in-process simulator with ${LATENCY_MS} ms latency and the strict API's limit: ${LIMIT_RPS} requests in any sliding second, app-wide, beyond it Graph code 4 over HTTP 400 with no stated wait; frozen simulated clock. Fresh workspace and fault rules per row; erased after.`,
    `seed design: bench/lib/sync-baseline.ts in its own Deno process (batches of ${WORKERS}, 2 s pauses, one call at a time per account, a RateLimiter at ${MAX_RPS} req/s); no platform limits (it is not a function).`,
    `product defaults: the real scheduled-sync function in a functions host with the stack's limits (per invocation: CPU, memory, wall clock, as hosted) and the product's defaults for every SYNC_* setting (SYNC_CPU_BUDGET_MS, SYNC_TIME_BUDGET_MS, SYNC_MAX_INVOCATIONS ...); only THREADS_API_MAX_RPS=${MAX_RPS} is told (the API's limit). POST {"workspaceId"}; the run is followed in the database until it ends, through its hand-offs and side-by-side invocations. The 15-minute cron job was paused during the bench and restored.`,
    `bound s = admitted calls / ${LIMIT_RPS} per second: the least wall time the API's limit allows (the baseline no design can beat); x bound = wall / bound; of limit = bound / wall. admitted, rate-limited and max in 1 s (the most admitted calls in any sliding 1,000 ms) are the simulator's counters. CPU ms/account: the product's invocations' CPU (the host's shutdown lines, boot included) or the seed process's, per account. peak MB/invocation: the highest peak RSS of one invocation. DB share: time a connection had a request outstanding (a TCP relay in front of Postgres) over the workers' time (${WORKERS} per invocation x the invocations' wall time, or ${WORKERS} x the wall time for the seed).`,
  ];
  for (const m of product) {
    const d = m.detail;
    const inv = m.invocations;
    notes.push(
      `product @ ${m.accounts} x ${m.postsPerAccount}: status ${d.status}, ${inv.count} invocations (${d.sideBySide} at most side by side, ${d.handoffs} hand-offs), ${inv.killed} killed${
        inv.killed > 0 ? ` (${JSON.stringify(inv.killedBy)})` : ""
      }; CPU ${s(inv.cpuMs)} s in all (${(inv.cpuMs / m.accounts).toFixed(1)} ms/account, boot ${
        (inv.bootCpuMs / Math.max(1, inv.count)).toFixed(0)
      } ms/invocation, at most ${inv.maxCpuMs} ms in one invocation); peak ${inv.maxPeakRssMb} MB in one invocation; rate-limit answers ${m.rejections} (${
        pct(m.rate.rateLimitShare)
      } of requests) ${
        JSON.stringify(m.rate.rateLimitAnswersByCode)
      }; ${m.db.roundTrips} DB round trips (${
        (m.db.roundTrips / m.accounts).toFixed(1)
      }/account) on ${m.db.connections} connections.`,
    );
  }
  for (const m of seed) {
    const d = m.detail;
    notes.push(
      `seed @ ${m.accounts}: ${d.batches} batches, ${s(Number(d.pausedMs))} s of fixed pauses (${
        pct(Number(d.pausedMs) / m.wallMs)
      } of the wall time)${
        Number(d.failed) > 0 ? `; failures: ${(d.errors as string[]).join(" | ")}` : ""
      }.`,
    );
  }

  // The verdicts of issue 12.
  const w200 = product.find((m) => m.accounts === 200 && m.postsPerAccount === POSTS_PER_ACCOUNT);
  if (w200) {
    const checks = [
      [
        `wall <= 1.1 x bound`,
        w200.wallMs <= 1.1 * w200.rate.boundMs,
        `${(w200.wallMs / w200.rate.boundMs).toFixed(2)}x`,
      ],
      [
        `>= 0.9 of the limit`,
        (w200.rate.shareOfLimit ?? 0) >= 0.9,
        (w200.rate.shareOfLimit ?? 0).toFixed(2),
      ],
      [
        `rate-limit answers <= 0.1 % of calls`,
        w200.rate.rateLimitShare <= 0.001,
        pct(w200.rate.rateLimitShare),
      ],
      [`no invocation killed`, w200.invocations.killed === 0, String(w200.invocations.killed)],
      [
        `every account whole`,
        w200.accountsOk === w200.accounts,
        `${w200.accountsOk}/${w200.accounts}`,
      ],
    ] as const;
    notes.push(
      `W200 verdict: ${
        checks.map(([what, ok, value]) => `${what}: ${value} ${ok ? "met" : "MISSED"}`).join("; ")
      }.`,
    );
  }
  const w10k = product.find((m) => m.accounts === W10K_ACCOUNTS);
  if (w10k) {
    const checks = [
      [`inside one 15-minute window`, w10k.wallMs <= 15 * 60_000, `${s(w10k.wallMs)} s`],
      [
        `within 1.2 x its bound`,
        w10k.wallMs <= 1.2 * w10k.rate.boundMs,
        `${(w10k.wallMs / w10k.rate.boundMs).toFixed(2)}x`,
      ],
      [
        `every account whole`,
        w10k.accountsOk === w10k.accounts,
        `${w10k.accountsOk}/${w10k.accounts}`,
      ],
      [`no invocation killed`, w10k.invocations.killed === 0, String(w10k.invocations.killed)],
    ] as const;
    notes.push(
      `W10k verdict: ${
        checks.map(([what, ok, value]) => `${what}: ${value} ${ok ? "met" : "MISSED"}`).join("; ")
      }; ${w10k.invocations.count} invocations, ${
        (w10k.cpuMs / w10k.accounts).toFixed(1)
      } CPU ms/account, peak ${w10k.peakRssMb} MB per invocation, DB share ${pct(dbShare(w10k))}.`,
    );
  }
  if (product.length > 1) {
    notes.push(
      `Growth (wall / bound, flat means time per call does not grow with the run): ${
        product.map((m) =>
          `${m.accounts} x ${m.postsPerAccount}: ${(m.wallMs / m.rate.boundMs).toFixed(2)}`
        ).join(", ")
      }.`,
    );
  }
  notes.push(
    `Function and seed-process output: ${logFile}. Machine: 2 shared cores; compare ratios within one run.`,
  );
  return { rows, notes };
}

function dbShare(m: Measurement) {
  const workerMs = m.variant === "product defaults"
    ? WORKERS * Math.max(m.invocations.wallMs, m.wallMs)
    : WORKERS * m.wallMs;
  return m.db.busyMs / workerMs;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      sizes: { type: "string" },
      "baseline-sizes": { type: "string" },
      w10k: { type: "boolean" },
    },
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
    w10k: values.w10k,
  });
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
