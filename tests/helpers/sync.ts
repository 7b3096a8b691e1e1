/**
 * Driving the real scheduled-sync function on the test stack, and the simulator behind it.
 * Each test works in a workspace of its own with accounts of its own in the simulator, so
 * tests do not see each other's data.
 */
import type postgres from "postgres";
import { eventually, testStack } from "./stack.ts";
import { connectAccounts, type SimulatedAccount } from "../../local-stack/stack/demo-accounts.ts";

export async function simulator<T = unknown>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const stack = await testStack();
  const origin = new URL(stack.threadsApiBaseUrl).origin;
  const response = await fetch(`${origin}/_simulator${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`simulator ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

export interface TestWorkspace {
  workspaceId: string;
  accounts: SimulatedAccount[];
  /** Database account id by simulated user id. */
  accountIds: Map<string, string>;
}

/** A workspace with `count` fresh simulated accounts of `posts` posts each, connected. */
export async function newWorkspace(count: number, posts = 12): Promise<TestWorkspace> {
  const stack = await testStack();
  const { accounts } = await simulator<{ accounts: SimulatedAccount[] }>("/accounts", {
    body: { count, posts },
  });
  const { workspaceId, accountIds } = await connectAccounts(
    stack.dbUrl,
    stack.tokenEncryptionKey,
    accounts,
    `test-${crypto.randomUUID()}`,
  );
  return { workspaceId, accounts, accountIds };
}

export interface SyncReply {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** POSTs to scheduled-sync with the cron secret (or `secret`), as pg_cron or a person does. */
export async function callSync(
  body: unknown,
  options: { secret?: string | null; method?: string; rawBody?: string } = {},
): Promise<SyncReply> {
  const stack = await testStack();
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const secret = options.secret === undefined ? stack.cronSecret : options.secret;
  if (secret !== null) headers.Authorization = `Bearer ${secret}`;
  const response = await fetch(`${stack.functionsUrl}/scheduled-sync`, {
    method: options.method ?? "POST",
    headers,
    body: options.method === "GET" ? undefined : options.rawBody ?? JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON: keep the text */ }
  return { status: response.status, body: parsed };
}

/** Waits until run `runId` is no longer 'running' and returns its status. */
export function runEnded(sql: postgres.Sql, runId: string, timeoutMs = 120_000): Promise<string> {
  return eventually(
    `run ${runId} to end`,
    async () => {
      const [run] = await sql`select status from public.system_job_logs where id = ${runId}`;
      return run.status === "running" ? undefined : run.status as string;
    },
    timeoutMs,
    250,
  );
}
