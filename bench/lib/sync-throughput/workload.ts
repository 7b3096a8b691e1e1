/**
 * The sync-throughput benchmark's workload (bench/sync-throughput.ts): its constants, the
 * simulator's rules for each measurement, and what one measurement records.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { SimulatorHandle } from "../../../local-stack/simulator/server.ts";
import type { ApiRateSummary } from "../simulator-stats.ts";
import type { DbProxyStats } from "../db-relay.ts";
import type { InvocationFigures } from "../invocation-figures.ts";

export const LIMIT_RPS = 200;
export const LATENCY_MS = 30;
export const POSTS_PER_ACCOUNT = 40;
/**
 * The product's THREADS_API_MAX_RPS here, and the baseline limiter's ceiling: exactly the
 * limit. The limiter's burst (a tenth of a second) fits in the simulator's bucket (a second),
 * so pacing at the limit never runs the bucket dry; a rejection would show in the "429s" column.
 */
export const MAX_RPS = 200;
/** Concurrent accounts in both designs (SYNC_BATCH_SIZE's default; the seed's batch size). */
export const WORKERS = 5;
/** W10k: the many-accounts run, fewer posts each. */
export const W10K_ACCOUNTS = 10_000;
export const W10K_POSTS = 10;
/** The longest a run may take before the bench gives up on it. */
export const RUN_TIMEOUT_MS = 30 * 60_000;

export const BASELINE_SCRIPT = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "sync-baseline.ts",
);

export type Variant = "seed design" | "product defaults";

export interface Measurement {
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

export interface RunOutcome {
  /** performance.now() when the result was in: the process ended, or the run ended. */
  endedAt: number;
  accountsOk: number;
  peakRssMb: number;
  invocations: InvocationFigures;
  detail: Record<string, unknown>;
}

/** Fresh rules for every measurement: a full bucket, as after a quiet minute. */
export function resetWorkload(sim: SimulatorHandle) {
  sim.clearFaults();
  sim.addFault({ kind: "latency", ms: LATENCY_MS });
  // The strict API: any sliding second, app-wide; code 4 over HTTP 400 and no stated wait.
  sim.addFault({ kind: "app_rate_limit", rps: LIMIT_RPS });
  sim.resetStats();
}

/** When the simulator saw its first and last request (100 ms resolution). */
export function watchRequests(sim: SimulatorHandle) {
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
