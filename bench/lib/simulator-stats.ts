/**
 * Reads the Threads API simulator's counters through its control API, so a benchmark can
 * check the combined request rate of every invocation against the API's limit, whichever
 * process runs the simulator (the stack's, or one started in-process).
 *
 *   await resetSimulatorStats(stack.threadsApiBaseUrl);
 *   ... run the workload ...
 *   const rate = apiRateSummary(await readSimulatorStats(stack.threadsApiBaseUrl), 200, wallMs);
 */
import type { SimulatorStats } from "../../local-stack/simulator/request-stats.ts";

export type { SimulatorStats };

/** What a benchmark reports about the API rate a run used. */
export interface ApiRateSummary {
  limitRps: number;
  /** Calls that no rate limit refused. */
  admitted: number;
  /** The least wall time the limit allows for those calls: admitted / limit. */
  boundMs: number;
  /** Most admitted calls in any sliding 1,000 ms; above `limitRps` means over the limit. */
  maxAdmittedInAnyWindow: number;
  /** The busiest account's most calls in any 1,000 ms. */
  maxAdmittedInAnyWindowOneAccount: number;
  rateLimitAnswers: number;
  rateLimitAnswersByCode: Record<string, number>;
  /** Rate-limit answers per request received. */
  rateLimitShare: number;
  /** With the run's wall time: the share of the limit it used (boundMs / wallMs). */
  shareOfLimit?: number;
}

/** Where `/_simulator` lives, from the Graph base URL (`http://127.0.0.1:54329/v1.0`) or origin. */
export function simulatorOrigin(url: string): string {
  return new URL(url).origin;
}

async function control(url: string, method: string, path: string): Promise<unknown> {
  const response = await fetch(`${simulatorOrigin(url)}/_simulator${path}`, { method });
  const body = await response.text();
  if (!response.ok) {
    throw new Error(
      `Cannot ${method} the simulator's ${path} as it answered ${response.status}: ${body}`,
    );
  }
  return JSON.parse(body);
}

export async function readSimulatorStats(url: string): Promise<SimulatorStats> {
  return await control(url, "GET", "/stats") as SimulatorStats;
}

/** Zeroes the counters, the rate windows and the per-second histogram. */
export async function resetSimulatorStats(url: string): Promise<void> {
  await control(url, "POST", "/stats/reset");
}

export function apiRateSummary(
  stats: SimulatorStats,
  limitRps: number,
  wallMs?: number,
): ApiRateSummary {
  const boundMs = stats.admitted * 1000 / limitRps;
  return {
    limitRps,
    admitted: stats.admitted,
    boundMs,
    maxAdmittedInAnyWindow: stats.maxAdmittedInAnyWindow,
    maxAdmittedInAnyWindowOneAccount: Object.values(stats.maxAdmittedInAnyWindowByAccount)
      .reduce((a, b) => Math.max(a, b), 0),
    rateLimitAnswers: stats.rateLimited,
    rateLimitAnswersByCode: stats.rateLimitedByCode,
    rateLimitShare: stats.requests === 0 ? 0 : stats.rateLimited / stats.requests,
    ...(wallMs === undefined ? {} : { shareOfLimit: wallMs > 0 ? boundMs / wallMs : 0 }),
  };
}
