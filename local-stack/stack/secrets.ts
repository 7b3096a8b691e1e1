/**
 * The stack's secrets: generated once per stack and kept in `.stack/<name>/secrets.json`
 * (mode 0600), unless the `up` environment names them (CRON_SECRET, CONNECT_ACCOUNT_SECRET,
 * TOKEN_ENCRYPTION_KEY); the anon and service-role keys are signed with the stack's JWT secret.
 */
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import type { StackConfig } from "./config.ts";
import { signJwt } from "../functions-host/jwt.ts";

export interface StackSecrets {
  jwtSecret: string;
  cronSecret: string;
  connectAccountSecret: string;
  metricsSecret: string;
  tokenEncryptionKey: string;
  anonKey: string;
  serviceRoleKey: string;
}

function randomBase64(bytes: number): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(bytes))));
}

/** Secrets generated once per stack and kept in `.stack/<name>/secrets.json`. */
export async function loadSecrets(
  config: StackConfig,
  env: Record<string, string>,
): Promise<StackSecrets> {
  const file = join(config.dir, "secrets.json");
  let stored: Partial<StackSecrets> = {};
  if (existsSync(file)) stored = JSON.parse(Deno.readTextFileSync(file));
  const jwtSecret = stored.jwtSecret ?? randomBase64(32);
  const secrets: StackSecrets = {
    jwtSecret,
    cronSecret: env.CRON_SECRET || stored.cronSecret || randomBase64(24).replace(/[+/=]/g, ""),
    // connect-account's own secret (at least 32 bytes), never the cron secret.
    connectAccountSecret: env.CONNECT_ACCOUNT_SECRET || stored.connectAccountSecret ||
      randomBase64(33).replace(/[+/=]/g, "x"),
    // The metrics function's own secret (at least 32 bytes), for a Prometheus scrape job.
    metricsSecret: env.METRICS_SECRET || stored.metricsSecret ||
      randomBase64(33).replace(/[+/=]/g, "x"),
    tokenEncryptionKey: env.TOKEN_ENCRYPTION_KEY || stored.tokenEncryptionKey || randomBase64(32),
    // Long-lived keys like the ones `supabase start` prints for a local project.
    anonKey: stored.anonKey ??
      await signJwt({ iss: "supabase-local", role: "anon", exp: 4102444800 }, jwtSecret),
    serviceRoleKey: stored.serviceRoleKey ??
      await signJwt({ iss: "supabase-local", role: "service_role", exp: 4102444800 }, jwtSecret),
  };
  mkdirSync(config.dir, { recursive: true });
  Deno.writeTextFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** What `status` shows of the secrets: those stored, or none before the first `up`. */
export function readSecrets(config: StackConfig): Partial<StackSecrets> {
  const file = join(config.dir, "secrets.json");
  return existsSync(file) ? JSON.parse(Deno.readTextFileSync(file)) : {};
}
