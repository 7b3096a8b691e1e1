/**
 * A dry run: the accounts a manual run would sync, fetched and computed by the same three
 * steps with `dryRun` set, so nothing is written (no run row, no lease, no log): the answer
 * says what a real run would change.
 */
import { decrypt } from "./crypto.ts";
import { tokenKeys } from "./config.ts";
import { toSyncLogError } from "./errors.ts";
import type { RunnerDeps } from "./sync-runner.ts";
import type { SyncRequest } from "./sync-request.ts";
import { STEPS } from "./account-sync.ts";
import { createThreadsApiStats, ThreadsApiClient } from "./threads-api.ts";

/** A dry run looks at this many accounts unless maxAccounts says otherwise. */
const DRY_RUN_DEFAULT_ACCOUNTS = 25;

export async function dryRunSync(deps: RunnerDeps, request: SyncRequest) {
  const started = Date.now();
  const accounts = await deps.sql`
    select a.id, a.workspace_id, a.threads_user_id, a.username, t.access_token_encrypted
    from public.workspace_threads_accounts a
    join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
      and t.is_primary and t.revoked_at is null and t.expires_at > now() and t.rejected_at is null
    where a.is_active
      and (${request.accountIds ?? null}::uuid[] is null or a.id = any(${
    request.accountIds ?? null
  }::uuid[]))
      and (${request.workspaceId ?? null}::uuid is null or a.workspace_id = ${
    request.workspaceId ?? null
  }::uuid)
    order by a.last_synced_at nulls first, a.id
    limit ${request.maxAccounts ?? DRY_RUN_DEFAULT_ACCOUNTS}`;
  const apiStats = createThreadsApiStats();
  const results = [];
  for (const account of accounts) {
    const client = new ThreadsApiClient({
      baseUrl: deps.config.THREADS_API_BASE_URL,
      accessToken: await decrypt(
        account.access_token_encrypted,
        tokenKeys(deps.config),
        account.id,
      ),
      limiter: deps.limiter,
      stats: apiStats,
      logger: deps.log,
      fetch: deps.fetch,
    });
    const ctx = {
      sql: deps.sql,
      client,
      account: {
        id: account.id,
        workspaceId: account.workspace_id,
        threadsUserId: account.threads_user_id,
        username: account.username,
      },
      dryRun: true,
      log: deps.log,
      insightConcurrency: 8,
    };
    const steps: Record<string, unknown> = {};
    for (const [name, step] of STEPS) {
      try {
        const outcome = await step(ctx);
        steps[name] = { status: outcome.status, ...outcome.detail };
      } catch (error) {
        steps[name] = { status: "failed", error: toSyncLogError(error, { step: name }) };
      }
    }
    results.push({ accountId: account.id, username: account.username, steps });
  }
  return {
    dryRun: true,
    written: false,
    accounts: results,
    apiCalls: apiStats.calls,
    durationMs: Date.now() - started,
  };
}
