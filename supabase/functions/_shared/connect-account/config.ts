/**
 * connect-account's own secret, read once from the environment with zod like platform/config.ts:
 *
 *   CONNECT_ACCOUNT_SECRET (required)  the bearer secret operators present to connect or
 *                                      deactivate accounts. At least 32 bytes
 *                                      (openssl rand -base64 32), and not CRON_SECRET: the cron
 *                                      secret sits in Vault for pg_cron, and whoever can read
 *                                      it should not also be able to store tokens.
 */
import { z } from "zod";

const MIN_BYTES = 32;

export const connectAccountConfigSchema = z.object({
  CONNECT_ACCOUNT_SECRET: z.string({ error: "CONNECT_ACCOUNT_SECRET is required" }).refine(
    (value) => new TextEncoder().encode(value).length >= MIN_BYTES,
    `CONNECT_ACCOUNT_SECRET must be at least ${MIN_BYTES} bytes (openssl rand -base64 32)`,
  ),
  CRON_SECRET: z.string().optional(),
}).refine((env) => env.CONNECT_ACCOUNT_SECRET !== env.CRON_SECRET, {
  message: "CONNECT_ACCOUNT_SECRET must differ from CRON_SECRET",
});

export interface ConnectAccountConfig {
  readonly CONNECT_ACCOUNT_SECRET: string;
}

/** Validates `env`; throws one error naming every bad variable (never their values). */
export function loadConnectAccountConfig(
  env: Record<string, string | undefined>,
): ConnectAccountConfig {
  const parsed = connectAccountConfigSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `- ${issue.message}`).join("\n");
    throw new Error(`Cannot start as the configuration is invalid:\n${problems}`);
  }
  return Object.freeze({ CONNECT_ACCOUNT_SECRET: parsed.data.CONNECT_ACCOUNT_SECRET });
}
