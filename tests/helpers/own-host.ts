/**
 * A functions host of the test's own that also receives the run's hand-offs: Vault's
 * project_url points at it for the duration, so pg_net's continuations reach it exactly as
 * they reach the platform.
 */
import type postgres from "postgres";
import { startOwnHost, testStack } from "./stack.ts";

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
  const [{ secret: previous }] =
    await sql`select secret from vault.secrets where name = 'project_url'`;
  await sql`update vault.secrets set secret = ${`http://127.0.0.1:${host.port}`}
    where name = 'project_url'`;
  try {
    await fn(host.url, logs);
  } finally {
    await sql`update vault.secrets set secret = ${previous} where name = 'project_url'`;
    await host.close();
  }
}

/** POSTs `body` to scheduled-sync on the host at `url` with the cron secret. */
export async function postSync(url: string, body: unknown) {
  const stack = await testStack();
  const response = await fetch(`${url}/scheduled-sync`, {
    method: "POST",
    headers: { Authorization: `Bearer ${stack.cronSecret}` },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}
