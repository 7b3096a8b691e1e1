/**
 * The metrics function's own secret (platform/own-secret.ts):
 *
 *   METRICS_SECRET (required)  the bearer secret a Prometheus scrape job presents. At least 32
 *                              bytes, and neither CRON_SECRET nor CONNECT_ACCOUNT_SECRET: it
 *                              sits in the metrics stack's configuration, and whoever reads it
 *                              there should be able to read figures, not start runs or store
 *                              tokens.
 */
import { loadOwnSecret } from "../platform/own-secret.ts";

export interface MetricsConfig {
  readonly METRICS_SECRET: string;
}

/** Validates `env`; throws one error naming every bad variable (never their values). */
export function loadMetricsConfig(env: Record<string, string | undefined>): MetricsConfig {
  const secret = loadOwnSecret(env, "METRICS_SECRET", ["CRON_SECRET", "CONNECT_ACCOUNT_SECRET"]);
  return Object.freeze({ METRICS_SECRET: secret });
}
