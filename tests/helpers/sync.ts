/**
 * Driving the real scheduled-sync function on the test stack and waiting for its runs.
 */
import type postgres from "postgres";
import { eventually, testStack } from "./stack.ts";
import { callFunction, type CallOptions, type FunctionReply } from "./functions.ts";

export type SyncReply = FunctionReply;

/** POSTs to scheduled-sync with the cron secret (or `secret`), as pg_cron or a person does. */
export async function callSync(body: unknown, options: CallOptions = {}): Promise<SyncReply> {
  const stack = await testStack();
  return await callFunction(stack.functionsUrl, "scheduled-sync", body, options);
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
