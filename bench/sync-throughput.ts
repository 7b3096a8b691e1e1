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
 * Both talk to Postgres through a small TCP relay (bench/lib/db-relay.ts) that measures each
 * connection's busy time (from a request's first byte to the server's ReadyForQuery), so "time
 * in the database" is measured the same way for both, bookkeeping queries included. The seed
 * process's CPU is sampled from /proc (bench/lib/proc-cpu.ts); the runs, the report and the
 * verdicts are in bench/lib/sync-throughput/.
 *
 *   deno run -A bench/sync-throughput.ts [--sizes 50,200,1000] [--baseline-sizes 50,200]
 *     [--w10k]   (adds the 10,000 accounts x 10 posts run: about 11 minutes)
 * (standalone, against the stack named by STACK_NAME & co., which must be up)
 */
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import postgres from "postgres";
import { type HostOptions, startFunctionsHost } from "../local-stack/functions-host/host.ts";
import { readHostOptions } from "../local-stack/stack/stack.ts";
import { connectAccounts } from "../local-stack/stack/demo-accounts.ts";
import { startSimulator } from "../local-stack/simulator/server.ts";
import { stackConfigFromEnv } from "../local-stack/stack/config.ts";
import { type StackStatus, status } from "../local-stack/stack/stack.ts";
import { apiRateSummary } from "./lib/simulator-stats.ts";
import { startDbProxy } from "./lib/db-relay.ts";
import { watchChildCpu } from "./lib/proc-cpu.ts";
import {
  BASELINE_SCRIPT,
  LIMIT_RPS,
  MAX_RPS,
  type Measurement,
  POSTS_PER_ACCOUNT,
  resetWorkload,
  type Variant,
  W10K_ACCOUNTS,
  W10K_POSTS,
  watchRequests,
} from "./lib/sync-throughput/workload.ts";
import { runProduct, runSeedDesign, writtenRows } from "./lib/sync-throughput/runs.ts";
import { report } from "./lib/sync-throughput/report.ts";

export interface SyncThroughputOptions {
  /** Accounts per run of the product (default 50, 200, 1000). */
  sizes?: number[];
  /** Add the W10k run (10,000 accounts x 10 posts). */
  w10k?: boolean;
  /** Accounts per run of the seed design (default 50, 200; 1,000 would take ~10 minutes). */
  baselineSizes?: number[];
}

/** What every measurement shares: the stack, the database relay, the bench's log. */
interface Bench {
  stack: StackStatus;
  stackHost: HostOptions;
  sql: postgres.Sql;
  proxy: ReturnType<typeof startDbProxy>;
  logs: string[];
  flushLogs: () => void;
  label: string;
}

export async function runSyncThroughputBench(
  stack: StackStatus,
  options: SyncThroughputOptions = {},
): Promise<{ rows: Record<string, string | number>[]; notes: string[] }> {
  const sizes = options.sizes ?? [50, 200, 1000];
  const baselineSizes = options.baselineSizes ?? [50, 200];
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
    cleanups.unshift(await pauseCronSync(sql), await keepProjectUrl(sql));
    const proxy = startDbProxy(stack.dbUrl);
    cleanups.unshift(() => proxy.close());
    const stackHost = readHostOptions(dirname(stack.logsDir));
    const label = crypto.randomUUID().slice(0, 8);
    const bench: Bench = { stack, stackHost, sql, proxy, logs, flushLogs, label };
    const main = await world(bench, Math.max(...sizes, ...baselineSizes), POSTS_PER_ACCOUNT);
    try {
      for (const [variant, n] of plan(sizes, baselineSizes)) {
        measurements.push(await measure(bench, main, variant, n, POSTS_PER_ACCOUNT));
      }
    } finally {
      await main.close();
    }
    if (options.w10k) {
      const big = await world(bench, W10K_ACCOUNTS, W10K_POSTS);
      try {
        measurements.push(
          await measure(bench, big, "product defaults", W10K_ACCOUNTS, W10K_POSTS),
        );
      } finally {
        await big.close();
      }
    }
  } finally {
    for (const cleanup of cleanups) await cleanup();
  }
  return report(measurements, logFile);
}

/** Smallest first; at each size the seed design (if asked) before the product. */
function plan(sizes: number[], baselineSizes: number[]): [Variant, number][] {
  return [...new Set([...baselineSizes, ...sizes])].sort((a, b) => a - b).flatMap((n) => [
    ...(baselineSizes.includes(n) ? [["seed design", n] as [Variant, number]] : []),
    ...(sizes.includes(n) ? [["product defaults", n] as [Variant, number]] : []),
  ]);
}

/**
 * The 15-minute cron sync would sync the bench's accounts too (through the stack's own host and
 * simulator) if a tick fell inside the bench: pauses it; returns what restores it.
 */
async function pauseCronSync(sql: postgres.Sql) {
  const paused = await sql<{ jobid: string }[]>`
    select jobid::text from cron.job where jobname = 'scheduled-sync' and active`;
  for (const { jobid } of paused) {
    await sql`select cron.alter_job(${jobid}::bigint, active => false)`;
  }
  return async () => {
    for (const { jobid } of paused) {
      await sql`select cron.alter_job(${jobid}::bigint, active => true)`;
    }
  };
}

/**
 * Hand-offs and side-by-side invocations must reach the bench's host (each world points Vault's
 * project_url at its own, as tests/helpers/own-host.ts does); returns what restores it.
 */
async function keepProjectUrl(sql: postgres.Sql) {
  const [{ secret: previousUrl }] =
    await sql`select secret from vault.secrets where name = 'project_url'`;
  return () => sql`update vault.secrets set secret = ${previousUrl} where name = 'project_url'`;
}

/** A simulator with `accounts` x `posts`, and a functions host of the product talking to it. */
async function world(bench: Bench, accounts: number, posts: number) {
  const sim = await startSimulator({ seed: 7, accounts, posts, frozenClock: true });
  const functionEnv = { ...bench.stackHost.functionEnv };
  // The product's defaults for everything the stack's environment may have changed.
  for (const key of Object.keys(functionEnv)) {
    if (key.startsWith("SYNC_")) delete functionEnv[key];
  }
  const host = startFunctionsHost({
    ...bench.stackHost,
    port: 0,
    functionEnv: {
      ...functionEnv,
      SUPABASE_DB_URL: bench.proxy.url,
      THREADS_API_BASE_URL: sim.url,
      THREADS_API_MAX_RPS: String(MAX_RPS),
    },
    log: (line) => bench.logs.push(line),
  });
  await bench.sql`update vault.secrets set secret = ${`http://127.0.0.1:${host.port}`}
    where name = 'project_url'`;
  return { sim, host, close: async () => (await host.close(), await sim.close()) };
}

/** One measurement: a fresh workspace of `n` accounts, synced by `variant`, then erased. */
async function measure(
  bench: Bench,
  w: Awaited<ReturnType<typeof world>>,
  variant: Variant,
  n: number,
  postsPerAccount: number,
): Promise<Measurement> {
  const { stack, stackHost, sql, proxy, logs } = bench;
  const tokenKey = stackHost.functionEnv.TOKEN_ENCRYPTION_KEY;
  const { workspaceId } = await connectAccounts(
    stack.dbUrl,
    tokenKey,
    w.sim.accounts().slice(0, n),
    `bench:sync-throughput:${bench.label}:${variant}:${n}`,
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
      : runProduct(w.host, sql, workspaceId, stackHost.functionEnv.CRON_SECRET, logs)).finally(
        () => {
          watch.stop();
          cpu?.stop();
        },
      );
    const wallMs = run.endedAt - started;
    const window = watch.stop();
    const simStats = w.sim.stats();
    return {
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
    };
  } finally {
    bench.flushLogs();
    await sql`select public.erase_workspace(${workspaceId})`;
  }
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
