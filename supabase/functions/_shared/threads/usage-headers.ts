/** The Graph usage headers, read into the two signals the client acts on. */

/** What the Graph usage headers say, when the API sends them (unconfirmed for Threads). */
export interface UsageSignals {
  /** Highest percentage in `x-app-usage` (call_count, total_time, total_cputime). */
  appUsagePercent?: number;
  /** `estimated_time_to_regain_access` of `x-business-use-case-usage`, in ms. */
  regainAccessMs?: number;
}

export function readUsageHeaders(headers: Headers): UsageSignals {
  const signals: UsageSignals = {};
  const app = parseJsonObject(headers.get("x-app-usage"));
  if (app) {
    const percents = ["call_count", "total_time", "total_cputime"]
      .map((key) => app[key]).filter((v): v is number => typeof v === "number");
    if (percents.length > 0) signals.appUsagePercent = Math.max(...percents);
  }
  // {"<business id>": [{"type": ..., "estimated_time_to_regain_access": <minutes>}, ...]}
  const business = parseJsonObject(headers.get("x-business-use-case-usage"));
  if (business) {
    const minutes = Object.values(business).flatMap((v) => Array.isArray(v) ? v : [])
      .map((entry) => (entry as Record<string, unknown>)?.estimated_time_to_regain_access)
      .filter((v): v is number => typeof v === "number" && v > 0);
    if (minutes.length > 0) signals.regainAccessMs = Math.max(...minutes) * 60_000;
  }
  return signals;
}

function parseJsonObject(text: string | null): Record<string, unknown> | undefined {
  if (!text) return undefined;
  try {
    const value = JSON.parse(text);
    return value && typeof value === "object" ? value : undefined;
  } catch {
    return undefined;
  }
}
