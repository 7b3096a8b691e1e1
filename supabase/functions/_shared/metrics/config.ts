/**
 * The metrics function's own secret, read once from the environment with zod like config.ts:
 *
 *   METRICS_SECRET (required)  the bearer secret a Prometheus scrape job presents. At least 32
 *                              bytes (openssl rand -base64 32), and neither CRON_SECRET nor
 *                              CONNECT_ACCOUNT_SECRET: it sits in the metrics stack's
 *                              configuration, and whoever reads it there should be able to
 *                              read figures, not start runs or store tokens.
 */
import { z } from "zod";

const MIN_BYTES = 32;

export const metricsConfigSchema = z.object({
  METRICS_SECRET: z.string({ error: "METRICS_SECRET is required" }).refine(
    (value) => new TextEncoder().encode(value).length >= MIN_BYTES,
    `METRICS_SECRET must be at least ${MIN_BYTES} bytes (openssl rand -base64 32)`,
  ),
  CRON_SECRET: z.string().optional(),
  CONNECT_ACCOUNT_SECRET: z.string().optional(),
}).refine(
  (env) =>
    env.METRICS_SECRET !== env.CRON_SECRET && env.METRICS_SECRET !== env.CONNECT_ACCOUNT_SECRET,
  { message: "METRICS_SECRET must differ from CRON_SECRET and CONNECT_ACCOUNT_SECRET" },
);

export interface MetricsConfig {
  readonly METRICS_SECRET: string;
}

/** Validates `env`; throws one error naming every bad variable (never their values). */
export function loadMetricsConfig(env: Record<string, string | undefined>): MetricsConfig {
  const parsed = metricsConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `- ${issue.message}`).join("\n");
    throw new Error(`Cannot start as the configuration is invalid:\n${problems}`);
  }
  return Object.freeze({ METRICS_SECRET: parsed.data.METRICS_SECRET });
}
