/**
 * Benchmark: how much of an API's rate limit the shared limiter uses, and how many
 * rate-limit errors it provokes, against two baselines measured in the same run.
 *
 * Workload: the simulator on 127.0.0.1 with 30 ms latency and a 100 requests/second limit
 * (token bucket, one second of burst); 2,000 post-insight calls from 25 concurrent callers.
 *
 *   adaptive     one ThreadsApiClient behind RateLimiter({ maxRps: 100 }) (the shipped path)
 *   no limiter   the same client with a pass-through limiter (what a naive sync does)
 *   fixed delay  the same client, each caller spacing its calls 25/100 s apart (a hand-tuned sleep)
 *
 *   deno run -A bench/threads-api-rate.ts [--calls 2000] [--concurrency 25]
 */
import { parseArgs } from "node:util";
import { createLogger } from "../supabase/functions/_shared/platform/log.ts";
import { RateLimiter } from "../supabase/functions/_shared/threads/rate-limiter.ts";
import { ThreadsApiClient } from "../supabase/functions/_shared/threads-api.ts";
import { startSimulator } from "../local-stack/simulator/server.ts";

const LIMIT_RPS = 100;
const LATENCY_MS = 30;

export interface RateBenchOptions {
  calls?: number;
  concurrency?: number;
}

type Variant = "adaptive" | "no limiter" | "fixed delay";

interface VariantResult {
  variant: Variant;
  ok: number;
  failed: number;
  httpRequests: number;
  rejections: number;
  rejectionsAfterFirstSecond: number;
  wallMs: number;
  p95Ms: number;
}

/** A limiter that never waits: the baseline without pacing. */
const passThrough = {
  acquire: () => Promise.resolve(0),
  onRateLimited: () => {},
  onUsage: () => {},
} as unknown as RateLimiter;

export async function runThreadsApiRateBench(
  options: RateBenchOptions = {},
): Promise<{ rows: Record<string, string | number>[]; notes: string[] }> {
  const calls = options.calls ?? 2000;
  const concurrency = options.concurrency ?? 25;
  const sim = await startSimulator({
    seed: 1,
    accounts: 1,
    posts: 200,
    startTime: "2026-06-01T12:00:00Z",
    frozenClock: true,
  });
  const results: VariantResult[] = [];
  try {
    const account = sim.account(0);
    const postIds = sim.posts(0).filter((p) => p.metrics).map((p) => p.id);
    for (const variant of ["adaptive", "no limiter", "fixed delay"] as const) {
      // Fresh rules give each variant a full bucket, as after a quiet minute.
      sim.clearFaults();
      sim.addFault({ kind: "latency", ms: LATENCY_MS });
      sim.addFault({ kind: "rate_limit", rps: LIMIT_RPS });
      sim.resetStats();
      const client = new ThreadsApiClient({
        baseUrl: sim.url,
        accessToken: account.token,
        limiter: variant === "adaptive" ? new RateLimiter({ maxRps: LIMIT_RPS }) : passThrough,
        timeoutMs: 10_000,
        logger: createLogger({}, () => {}),
      });
      results.push(await runVariant(variant, client, postIds, calls, concurrency, sim.stats));
    }
  } finally {
    await sim.close();
  }
  return report(results, calls, concurrency);
}

async function runVariant(
  variant: Variant,
  client: ThreadsApiClient,
  postIds: string[],
  calls: number,
  concurrency: number,
  simStats: () => { requests: number; rateLimited: number },
): Promise<VariantResult> {
  let next = 0;
  let ok = 0;
  let failed = 0;
  const durations: number[] = [];
  const spacingMs = concurrency * 1000 / LIMIT_RPS;
  let rejectedInFirstSecond = 0;
  const firstSecond = setTimeout(() => rejectedInFirstSecond = simStats().rateLimited, 1000);
  const started = performance.now();
  const caller = async () => {
    while (next < calls) {
      const id = postIds[next++ % postIds.length];
      const t0 = performance.now();
      try {
        await client.getPostInsights(id);
        ok++;
      } catch {
        failed++;
      }
      const took = performance.now() - t0;
      durations.push(took);
      if (variant === "fixed delay" && took < spacingMs) {
        await new Promise((resolve) => setTimeout(resolve, spacingMs - took));
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, caller));
  const wallMs = performance.now() - started;
  clearTimeout(firstSecond);
  const stats = simStats();
  if (wallMs < 1000) rejectedInFirstSecond = stats.rateLimited;
  durations.sort((a, b) => a - b);
  return {
    variant,
    ok,
    failed,
    httpRequests: stats.requests,
    rejections: stats.rateLimited,
    rejectionsAfterFirstSecond: stats.rateLimited - rejectedInFirstSecond,
    wallMs,
    p95Ms: durations[Math.floor(durations.length * 0.95)] ?? 0,
  };
}

function report(results: VariantResult[], calls: number, concurrency: number) {
  const okRps = (r: VariantResult) => r.ok / (r.wallMs / 1000);
  const rows = results.map((r) => ({
    variant: r.variant,
    "calls ok": r.ok,
    "calls failed": r.failed,
    "HTTP requests": r.httpRequests,
    "429/code-4 rejections": r.rejections,
    "rejections after 1st s": r.rejectionsAfterFirstSecond,
    "wall s": Number((r.wallMs / 1000).toFixed(2)),
    "ok calls/s": Number(okRps(r).toFixed(1)),
    "fraction of limit": Number((okRps(r) / LIMIT_RPS).toFixed(3)),
    "p95 call ms": Math.round(r.p95Ms),
  }));
  const [adaptive, naive, fixed] = results;
  const ratio = (a: number, b: number) => (b === 0 ? "n/a" : (a / b).toFixed(2));
  const notes = [
    `Workload: ${calls} post-insight calls from ${concurrency} concurrent callers; simulator on 127.0.0.1 with ${LATENCY_MS} ms latency and a ${LIMIT_RPS} req/s token-bucket limit (1 s burst).`,
    `Adaptive limiter used ${
      (okRps(adaptive) / LIMIT_RPS * 100).toFixed(1)
    } % of the limit (aim >= 90 %) with ${adaptive.rejectionsAfterFirstSecond} rejections after the first second (aim 0).`,
    `Versus no limiter: ${adaptive.ok}/${calls} calls completed vs ${naive.ok}/${calls} (${
      ratio(adaptive.ok, Math.max(1, naive.ok))
    }x); the naive client sent ${naive.httpRequests} HTTP requests (${
      ratio(naive.httpRequests, adaptive.httpRequests)
    }x) and provoked ${naive.rejections} rejections.`,
    `Versus fixed delay (each caller sleeps to ${concurrency}/${LIMIT_RPS} s per call, hand-tuned to exactly this limit and concurrency): ${
      ratio(okRps(adaptive), okRps(fixed))
    }x the throughput (${
      okRps(fixed).toFixed(1)
    } ok calls/s, ${fixed.rejections} rejections). The limiter gets there without tuning, and one instance is shared by every account's client.`,
    "Machine: 2 cores, shared with other work; timings are noisy, so compare ratios within one run rather than absolute numbers across runs.",
  ];
  return { rows, notes };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: { calls: { type: "string" }, concurrency: { type: "string" } },
  });
  const result = await runThreadsApiRateBench({
    calls: values.calls ? Number(values.calls) : undefined,
    concurrency: values.concurrency ? Number(values.concurrency) : undefined,
  });
  console.table(result.rows);
  for (const note of result.notes) console.log(`- ${note}`);
}
