/**
 * A functions host of the test's own that also receives the run's hand-offs: Vault's
 * project_url points at it for the duration, so pg_net's continuations reach it exactly as
 * they reach the platform.
 */
import type postgres from "postgres";
import { startOwnHost } from "./stack.ts";
import { callFunction, type FunctionReply } from "./functions.ts";

export async function withOwnHost(
  sql: postgres.Sql,
  settings: {
    wallClockLimitMs: number;
    cpuLimitMs?: number;
    memoryLimitMb?: number;
    env: Record<string, string>;
  },
  fn: (url: string, logs: string[]) => Promise<void>,
): Promise<void> {
  const logs: string[] = [];
  const host = await startOwnHost({ ...settings, log: (line) => logs.push(line) });
  const restore = await pointProjectUrl(sql, host.url);
  try {
    await fn(host.url, logs);
  } finally {
    await restore();
    await host.close();
  }
}

/**
 * Points Vault's project_url, where pg_cron's commands and the runs' hand-offs are sent, at
 * the functions host at `functionsUrl` (…/functions/v1). Returns what puts it back.
 */
export async function pointProjectUrl(
  sql: postgres.Sql,
  functionsUrl: string,
): Promise<() => Promise<void>> {
  const [{ secret: previous }] =
    await sql`select secret from vault.secrets where name = 'project_url'`;
  await sql`update vault.secrets set secret = ${functionsUrl.replace(/\/functions\/v1$/, "")}
    where name = 'project_url'`;
  return async () => {
    await sql`update vault.secrets set secret = ${previous} where name = 'project_url'`;
  };
}

/** POSTs `body` to scheduled-sync on the host at `url` with the cron secret. */
export function postSync(url: string, body: unknown): Promise<FunctionReply> {
  return callFunction(url, "scheduled-sync", body);
}
