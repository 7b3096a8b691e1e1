/**
 * The metrics endpoint: `GET` with `Authorization: Bearer <METRICS_SECRET>` answers the
 * figures of public.collect_sync_metrics in the Prometheus text format (exposition.ts).
 *
 *   401  missing or wrong secret (JSON error, like every function)
 *   405  any other method (a scraper only GETs; no CORS: browsers are not its callers)
 *   503  the database cannot answer (logged; a scrape failure, `up == 0` in Prometheus)
 */
import { hasBearerSecret } from "../platform/auth.ts";
import type { Sql } from "../platform/db.ts";
import { errorResponse, methodNotAllowed } from "../platform/http.ts";
import type { Logger } from "../platform/log.ts";
import { CONTENT_TYPE, renderExposition, type Sample } from "./exposition.ts";

export interface MetricsDeps {
  sql: Sql;
  /** METRICS_SECRET (metrics/config.ts). */
  secret: string;
  /** SYNC_ACCOUNT_DAILY_CALL_BUDGET: the budget the highest account's calls are a share of. */
  dailyCallBudget: number;
  log: Logger;
}

/** Reads every sample in one statement. */
export async function collectSamples(sql: Sql, dailyCallBudget: number): Promise<Sample[]> {
  const rows = await sql<{ metric: string; labels: Record<string, string>; value: number }[]>`
    select metric, labels, value from public.collect_sync_metrics(${dailyCallBudget})`;
  return rows.map((r) => ({ metric: r.metric, labels: r.labels, value: Number(r.value) }));
}

export function createMetricsHandler(deps: MetricsDeps): (request: Request) => Promise<Response> {
  return async (request) => {
    if (request.method !== "GET") return methodNotAllowed(["GET"]);
    if (!(await hasBearerSecret(request, deps.secret))) {
      return errorResponse(401, "unauthorized", "Authorization must be `Bearer <METRICS_SECRET>`");
    }
    const started = Date.now();
    try {
      const body = renderExposition(await collectSamples(deps.sql, deps.dailyCallBudget));
      deps.log.info("metrics_served", { duration_ms: Date.now() - started });
      return new Response(body, {
        status: 200,
        headers: { "Content-Type": CONTENT_TYPE, "Cache-Control": "no-store" },
      });
    } catch (error) {
      deps.log.error("metrics_failed", { error, duration_ms: Date.now() - started });
      return errorResponse(503, "metrics_unavailable", "Cannot read the metrics: see the log");
    }
  };
}
