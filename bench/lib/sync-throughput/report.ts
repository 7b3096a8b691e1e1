/**
 * The sync-throughput benchmark's report: one table row per measurement, notes on how it was
 * measured, and a line per run (see verdicts.ts for the issue's verdicts).
 */
import type { Measurement } from "./workload.ts";
import {
  LATENCY_MS,
  LIMIT_RPS,
  MAX_RPS,
  POSTS_PER_ACCOUNT,
  W10K_ACCOUNTS,
  W10K_POSTS,
  WORKERS,
} from "./workload.ts";
import { growthNote, w10kVerdict, w200Verdict } from "./verdicts.ts";

export const s = (ms: number) => Number((ms / 1000).toFixed(1));
export const pct = (x: number) => `${(x * 100).toFixed(1)} %`;

export function report(measurements: Measurement[], logFile: string) {
  const product = measurements.filter((m) => m.variant === "product defaults");
  const seed = measurements.filter((m) => m.variant === "seed design");
  const notes = [
    ...howMeasured(),
    ...product.map(productNote),
    ...seed.map(seedNote),
    ...[w200Verdict(product), w10kVerdict(product), growthNote(product)].filter(
      (note): note is string => note !== undefined,
    ),
    `Function and seed-process output: ${logFile}. Machine: 2 shared cores; compare ratios within one run.`,
  ];
  return { rows: measurements.map(row), notes };
}

/** One table row. */
function row(m: Measurement) {
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
}

/** The workload, the two designs, and what each column means. */
function howMeasured(): string[] {
  return [
    `Workload: N accounts x ${POSTS_PER_ACCOUNT} posts (W10k: ${W10K_ACCOUNTS} x ${W10K_POSTS}), first sync (whole history, every post's insights), on an in-process simulator with ${LATENCY_MS} ms latency and the strict API's limit: ${LIMIT_RPS} requests in any sliding second, app-wide, beyond it Graph code 4 over HTTP 400 with no stated wait; frozen simulated clock. Fresh workspace and fault rules per row; erased after.`,
    `seed design: bench/lib/sync-baseline.ts in its own Deno process (batches of ${WORKERS}, 2 s pauses, one call at a time per account, a RateLimiter at ${MAX_RPS} req/s); no platform limits (it is not a function).`,
    `product defaults: the real scheduled-sync function in a functions host with the stack's limits (per invocation: CPU, memory, wall clock, as hosted) and the product's defaults for every SYNC_* setting (SYNC_CPU_BUDGET_MS, SYNC_TIME_BUDGET_MS, SYNC_MAX_INVOCATIONS ...); only THREADS_API_MAX_RPS=${MAX_RPS} is told (the API's limit). POST {"workspaceId"}; the run is followed in the database until it ends, through its hand-offs and side-by-side invocations. The 15-minute cron job was paused during the bench and restored.`,
    `bound s = admitted calls / ${LIMIT_RPS} per second: the least wall time the API's limit allows (the baseline no design can beat); x bound = wall / bound; of limit = bound / wall. admitted, rate-limited and max in 1 s (the most admitted calls in any sliding 1,000 ms) are the simulator's counters. CPU ms/account: the product's invocations' CPU (the host's shutdown lines, boot included) or the seed process's, per account. peak MB/invocation: the highest peak RSS of one invocation. DB share: time a connection had a request outstanding (a TCP relay in front of Postgres) over the workers' time (${WORKERS} per invocation x the invocations' wall time, or ${WORKERS} x the wall time for the seed).`,
  ];
}

function productNote(m: Measurement): string {
  const d = m.detail;
  const inv = m.invocations;
  return `product @ ${m.accounts} x ${m.postsPerAccount}: status ${d.status}, ${inv.count} invocations (${d.sideBySide} at most side by side, ${d.handoffs} hand-offs), ${inv.killed} killed${
    inv.killed > 0 ? ` (${JSON.stringify(inv.killedBy)})` : ""
  }; CPU ${s(inv.cpuMs)} s in all (${(inv.cpuMs / m.accounts).toFixed(1)} ms/account, boot ${
    (inv.bootCpuMs / Math.max(1, inv.count)).toFixed(0)
  } ms/invocation, at most ${inv.maxCpuMs} ms in one invocation); peak ${inv.maxPeakRssMb} MB in one invocation; rate-limit answers ${m.rejections} (${
    pct(m.rate.rateLimitShare)
  } of requests) ${
    JSON.stringify(m.rate.rateLimitAnswersByCode)
  }; ${m.db.roundTrips} DB round trips (${
    (m.db.roundTrips / m.accounts).toFixed(1)
  }/account) on ${m.db.connections} connections.`;
}

function seedNote(m: Measurement): string {
  const d = m.detail;
  return `seed @ ${m.accounts}: ${d.batches} batches, ${s(Number(d.pausedMs))} s of fixed pauses (${
    pct(Number(d.pausedMs) / m.wallMs)
  } of the wall time)${
    Number(d.failed) > 0 ? `; failures: ${(d.errors as string[]).join(" | ")}` : ""
  }.`;
}

export function dbShare(m: Measurement) {
  const workerMs = m.variant === "product defaults"
    ? WORKERS * Math.max(m.invocations.wallMs, m.wallMs)
    : WORKERS * m.wallMs;
  return m.db.busyMs / workerMs;
}
