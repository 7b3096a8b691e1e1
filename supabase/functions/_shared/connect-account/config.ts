/**
 * connect-account's own secret (platform/own-secret.ts):
 *
 *   CONNECT_ACCOUNT_SECRET (required)  the bearer secret operators present to connect or
 *                                      deactivate accounts. At least 32 bytes, and not
 *                                      CRON_SECRET: the cron secret sits in Vault for pg_cron,
 *                                      and whoever can read it should not also be able to
 *                                      store tokens.
 */
import { loadOwnSecret } from "../platform/own-secret.ts";

export interface ConnectAccountConfig {
  readonly CONNECT_ACCOUNT_SECRET: string;
}

/** Validates `env`; throws one error naming every bad variable (never their values). */
export function loadConnectAccountConfig(
  env: Record<string, string | undefined>,
): ConnectAccountConfig {
  const secret = loadOwnSecret(env, "CONNECT_ACCOUNT_SECRET", ["CRON_SECRET"]);
  return Object.freeze({ CONNECT_ACCOUNT_SECRET: secret });
}
