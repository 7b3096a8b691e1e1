// A dry run through the real scheduled-sync function ({"dryRun": true}) is bounded like a real
// run: the same accounts (not inactive, paused, deferred or token-rejected ones), 25 by default
// and 100 at most, within the time budget, its API calls counted in each account's 24-hour
// budget, and one account's unreadable token is that account's error, not a failed request.
import type postgres from "postgres";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startOwnHost, testDb } from "../helpers/stack.ts";
import { callFunction } from "../helpers/functions.ts";
import { removeFaults, simulatorStats, slowDown } from "../helpers/simulator.ts";
import { callSync } from "../helpers/sync.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import type { HostHandle } from "../../local-stack/functions-host/host.ts";

/** POSTs a body to scheduled-sync on a functions host of the test's own. */
const callOwnHost = (host: HostHandle, body: unknown) =>
  callFunction(host.url, "scheduled-sync", body);

/** The API calls the simulator received for each of these simulated users. */
async function callsBy(userIds: string[]): Promise<number[]> {
  const stats = await simulatorStats();
  return userIds.map((id) => stats.byAccount[id] ?? 0);
}

/** An account's API calls over the last 24 hours, as the sync's budget check sums them. */
async function calls24h(sql: postgres.Sql, accountId: string): Promise<number> {
  const [{ calls }] = await sql`
    select coalesce(sum((metadata ->> 'api_calls')::int), 0)::int as calls
    from public.sync_logs
    where workspace_threads_account_id = ${accountId}
      and completed_at > now() - interval '24 hours'`;
  return calls;
}

Deno.test({
  name:
    "a dry run takes the accounts a real run would: not inactive, paused, deferred or token-rejected ones",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(5, 2);
      const [ok, inactive, paused, deferred, rejected] = ws.accounts.map((a) =>
        ws.accountIds.get(a.id)!
      );
      await sql`update public.workspace_threads_accounts
        set is_active = false, deactivated_at = now() where id = ${inactive}`;
      await sql`update public.workspace_threads_accounts
        set sync_paused_at = now(), sync_paused_reason = 'test: failed 10 runs' where id = ${paused}`;
      await sql`update public.workspace_threads_accounts
        set rate_limited_until = now() + interval '1 hour' where id = ${deferred}`;
      await sql`update public.workspace_threads_tokens
        set rejected_at = now(), rejected_reason = 'auth_expired: test'
        where workspace_threads_account_id = ${rejected} and is_primary`;
      const before = await callsBy(ws.accounts.map((a) => a.id));

      const reply = await callSync({ workspaceId: ws.workspaceId, dryRun: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assertEquals(reply.body.accounts.map((a: { accountId: string }) => a.accountId), [ok]);
      const after = await callsBy(ws.accounts.map((a) => a.id));
      assert(after[0] > before[0], "the eligible account was looked at");
      assertEquals(after.slice(1), before.slice(1), "no call for the ineligible accounts");

      // As with a real run, naming a paused account is an operator's explicit request.
      const named = await callSync({ accountIds: [paused, inactive], dryRun: true });
      assertEquals(named.status, 200, JSON.stringify(named.body));
      assertEquals(named.body.accounts.map((a: { accountId: string }) => a.accountId), [paused]);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "a dry run looks at 25 accounts unless maxAccounts says otherwise, and at most 100",
  sanitizeResources: false,
  fn: async () => {
    const ws = await newWorkspace(26, 1);
    const all = await callSync({ workspaceId: ws.workspaceId, dryRun: true });
    assertEquals(all.status, 200, JSON.stringify(all.body));
    assertEquals(all.body.accounts.length, 25);

    const two = await callSync({ workspaceId: ws.workspaceId, dryRun: true, maxAccounts: 2 });
    assertEquals(two.body.accounts.length, 2);

    const tooMany = await callSync({ workspaceId: ws.workspaceId, dryRun: true, maxAccounts: 101 });
    assertEquals(tooMany.status, 400);
    assertEquals(tooMany.body.detail, "maxAccounts must be at most 100 for a dry run");
  },
});

Deno.test({
  name: "a dry run stops at the time budget and answers the accounts left as not attempted",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const host = await startOwnHost({ env: { SYNC_TIME_BUDGET_MS: "1500" }, log: () => {} });
    const ws = await newWorkspace(4, 2);
    // Every call of these accounts takes 300 ms: an account (at least four calls) outlasts
    // a third of the budget, so four cannot all fit.
    const rules = await slowDown(ws.accounts, 300);
    try {
      const started = Date.now();
      const reply = await callOwnHost(host, { workspaceId: ws.workspaceId, dryRun: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      const done = reply.body.accounts.length;
      const left = reply.body.notAttempted.length;
      assert(done >= 1 && left >= 1, `${done} looked at, ${left} not attempted`);
      assertEquals(done + left, 4);
      assert(Date.now() - started < 10_000, "the answer came soon after the budget");
      assertEquals(reply.body.status, "partial");
      const [run] = await sql`select job_type, status, metadata from public.system_job_logs
        where id = ${reply.body.runId}`;
      assertEquals([run.job_type, run.status], ["dry_run", "partial"]);
      assertEquals(run.metadata.not_attempted, left);
      assertEquals(run.metadata.total_accounts, 4);
      // The accounts not attempted made no call.
      const notAttempted = new Set(
        reply.body.notAttempted.map((a: { accountId: string }) => a.accountId),
      );
      const untouched = ws.accounts.filter((a) => notAttempted.has(ws.accountIds.get(a.id)!));
      assertEquals(await callsBy(untouched.map((a) => a.id)), untouched.map(() => 0));
    } finally {
      await removeFaults(...rules);
      await host.close();
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "a dry run's API calls count in the account's 24-hour budget, and a spent budget stops the next run",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    // A budget of 2 calls a day: one dry run (the posts listing and the account's insights,
    // no post stored yet so none due for metrics) spends more than 80% of it.
    const host = await startOwnHost({
      env: { SYNC_ACCOUNT_DAILY_CALL_BUDGET: "2" },
      log: () => {},
    });
    try {
      const ws = await newWorkspace(1, 3);
      const user = ws.accounts[0].id;
      const accountId = ws.accountIds.get(user)!;
      const [before] = await callsBy([user]);
      const dry = await callOwnHost(host, { accountIds: [accountId], dryRun: true });
      assertEquals(dry.status, 200, JSON.stringify(dry.body));
      const [after] = await callsBy([user]);
      assert(after - before >= 2, `the dry run made ${after - before} calls`);
      assertEquals(dry.body.apiCalls, after - before);
      assertEquals(await calls24h(sql, accountId), after - before, "recorded in sync_logs");

      // The budget check of a real run sees the dry run's calls.
      const real = await callOwnHost(host, { accountIds: [accountId], wait: true });
      assertEquals(real.body.accounts.skipped, 1, JSON.stringify(real.body));
      const [step] = await sql`select error_code from public.sync_logs
        where run_id = ${real.body.runId}`;
      assertEquals(step.error_code, "api_budget");
      // So does the next dry run's: it makes no call.
      const again = await callOwnHost(host, { accountIds: [accountId], dryRun: true });
      assertEquals(again.body.accounts[0].status, "skipped");
      assertEquals(again.body.accounts[0].error.code, "api_budget");
      assertEquals(await callsBy([user]), [after]);
    } finally {
      await host.close();
      await sql.end();
    }
  },
});

Deno.test({
  name: "a dry run answers an undecryptable token as that account's error, not a failed request",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(2, 3);
    const [good, bad] = ws.accounts.map((a) => ws.accountIds.get(a.id)!);
    try {
      // Well-formed, but sealed with another key.
      await sql`update public.workspace_threads_tokens
        set access_token_encrypted = 'v1.AAAAAAAAAAAAAAAA.' || repeat('B', 40)
        where workspace_threads_account_id = ${bad} and is_primary`;
      const reply = await callSync({ workspaceId: ws.workspaceId, dryRun: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      const byId = new Map(
        reply.body.accounts.map((a: { accountId: string }) => [a.accountId, a]),
      );
      // deno-lint-ignore no-explicit-any
      const [goodResult, badResult] = [byId.get(good), byId.get(bad)] as any[];
      assertEquals(goodResult.status, "completed");
      assertEquals(badResult.status, "failed");
      assertEquals(badResult.error.code, "token_unreadable");
      assertMatch(badResult.error.message, /TOKEN_ENCRYPTION_KEY/);
      const [row] = await sql`select status, error_code from public.sync_logs
        where run_id = ${reply.body.runId} and workspace_threads_account_id = ${bad}`;
      assertEquals([row.status, row.error_code], ["failed", "token_unreadable"]);
    } finally {
      // Runs over all accounts in later tests must not meet this account.
      await sql`update public.workspace_threads_accounts
        set is_active = false, deactivated_at = now() where id = ${bad}`;
      await sql.end();
    }
  },
});
