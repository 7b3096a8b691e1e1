/**
 * metrics: the sync's figures for Prometheus (runs, durations, account health, API calls),
 * scraped with `GET` and `Authorization: Bearer <METRICS_SECRET>`. See
 * _shared/metrics/handler.ts for the contract and the README ("Knowing it works") for a
 * scrape config.
 */
import { getConfig } from "../_shared/platform/config.ts";
import { connect, dbTimeouts } from "../_shared/platform/db.ts";
import { createLogger } from "../_shared/platform/log.ts";
import { loadMetricsConfig } from "../_shared/metrics/config.ts";
import { createMetricsHandler } from "../_shared/metrics/handler.ts";

const config = getConfig();

Deno.serve(createMetricsHandler({
  // One connection: a scrape is one statement, and scrapes come one at a time.
  sql: connect(config.SUPABASE_DB_URL, { max: 1, timeouts: dbTimeouts(config) }),
  secret: loadMetricsConfig(Deno.env.toObject()).METRICS_SECRET,
  dailyCallBudget: config.SYNC_ACCOUNT_DAILY_CALL_BUDGET,
  log: createLogger({ function: "metrics" }),
}));
