// token-refresh end to end: the real function in a functions host of the test's own (its log
// lines captured, Vault's project_url pointed at it so pg_cron's command and hand-offs reach
// it), the real database, the Threads API simulator. Accounts are connected through the real
// connect-account function. Tokens are brought near their expiry by setting expires_at in the
// database (the simulator's clock is shared with other tests and stays put).
import type postgres from "postgres";
import { assert, assertEquals, assertMatch, assertNotEquals } from "../helpers/assert.ts";
import { eventually, testDb, testStack } from "../helpers/stack.ts";
import {
  addFault,
  currentToken,
  refreshedOutside,
  removeFaults,
  type SimulatedAccount,
  simulatedAccounts,
  simulatorStats,
} from "../helpers/simulator.ts";
import { capturingHosts } from "../helpers/functions.ts";
import { assertNoTokenIn, logTablesText, primaryToken } from "../helpers/tokens.ts";
import { pointProjectUrl } from "../helpers/own-host.ts";
import { runEnded } from "../helpers/sync.ts";
import { emptyWorkspace } from "../helpers/workspace.ts";
import { decrypt } from "../../supabase/functions/_shared/crypto.ts";

/** Functions hosts with the stack's settings plus an env, one per distinct env. */
const functions = capturingHosts();
const { logs, answers } = functions;
/** Every token the tests saw: none may show up in a log line, an answer or a log table. */
const tokens = new Set<string>();
const functionsUrl = (env: Record<string, string> = {}) => functions.url(env);
const post = (name: string, body: unknown, env: Record<string, string> = {}) =>
  functions.post(name, body, { env });

interface Connected {
  workspaceId: string;
  accounts: SimulatedAccount[];
  /** Database account id by simulated user id. */
  ids: Map<string, string>;
}

/** Fresh simulated accounts, connected to a new workspace through connect-account. */
async function connectedWorkspace(
  sql: postgres.Sql,
  count: number,
  env: Record<string, string> = {},
): Promise<Connected> {
  const accounts = await simulatedAccounts(count, 2);
  const workspaceId = await emptyWorkspace(sql, "refresh-test");
  const ids = new Map<string, string>();
  for (const account of accounts) {
    tokens.add(account.token);
    const reply = await post("connect-account", {
      workspaceId,
      accessToken: account.token,
      expiresAt: account.tokenExpiresAt,
    }, env);
    assertEquals(reply.status, 201, JSON.stringify(reply.body));
    ids.set(account.id, reply.body.account.id);
  }
  return { workspaceId, accounts, ids };
}

/** Brings an account's primary token within the refresh window. */
async function expireSoon(sql: postgres.Sql, accountId: string, days = 3) {
  await sql`update public.workspace_threads_tokens
    set expires_at = now() + ${`${days} days`}::interval
    where workspace_threads_account_id = ${accountId} and is_primary and revoked_at is null`;
}

Deno.test({
  name: "a token near expiry is refreshed, stored encrypted as primary, and used by the next sync",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const stack = await testStack();
    const ws = await connectedWorkspace(sql, 2);
    const [near, far] = ws.accounts;
    const nearId = ws.ids.get(near.id)!;
    const farId = ws.ids.get(far.id)!;
    await expireSoon(sql, nearId);
    const before = await primaryToken(sql, nearId);
    const farBefore = await primaryToken(sql, farId);
    let rule: { id: string } | undefined;
    try {
      const reply = await post("token-refresh", { workspaceId: ws.workspaceId, wait: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assertEquals(reply.body.status, "completed");
      assertEquals(reply.body.windowDays, 15);
      assertEquals(reply.body.accounts, {
        total: 1,
        refreshed: 1,
        failed: 0,
        rejected: 0,
        skipped: 0,
      });
      assertEquals(reply.body.results[0].outcome, "refreshed");

      const after = await primaryToken(sql, nearId);
      assertNotEquals(after.id, before.id);
      assertEquals(after.obtained_via, "refresh");
      assertMatch(after.access_token_encrypted, new RegExp(`^v2\\.${nearId}\\.`));
      const newToken = await decrypt(
        after.access_token_encrypted,
        stack.tokenEncryptionKey,
        nearId,
      );
      tokens.add(newToken);
      assertNotEquals(newToken, near.token, "a refreshed token is a new string");
      assertEquals(newToken, await currentToken(near.id), "the token the API issued");
      const days = (after.expires_at.getTime() - Date.now()) / 86_400_000;
      assert(days > 59.9 && days <= 60, `the new token lasts 60 days (${days})`);
      const [old] = await sql`select revoked_at from public.workspace_threads_tokens
        where id = ${before.id}`;
      assert(old.revoked_at !== null, "the old token is revoked");
      assertEquals(
        (await primaryToken(sql, farId)).id,
        farBefore.id,
        "a token far from expiry is left alone",
      );

      const [run] = await sql`select job_type, status, trigger, metadata from public.system_job_logs
        where id = ${reply.body.runId}`;
      assertEquals([run.job_type, run.status, run.trigger], [
        "token_refresh",
        "completed",
        "manual",
      ]);
      assertEquals(
        [run.metadata.total_accounts, run.metadata.success_count, run.metadata.error_count],
        [1, 1, 0],
      );
      const steps =
        await sql`select workspace_threads_account_id as account, job_type, status, metadata
        from public.sync_logs where run_id = ${reply.body.runId}`;
      assertEquals(steps.length, 1);
      assertEquals([steps[0].account, steps[0].job_type, steps[0].status], [
        nearId,
        "token_refresh",
        "completed",
      ]);
      assertEquals(steps[0].metadata.new_token_id, after.id);
      const [health] =
        await sql`select token_status, last_refreshed_at from public.account_token_health
        where account_id = ${nearId}`;
      assertEquals(health.token_status, "ok");
      assert(health.last_refreshed_at !== null);

      // The old token stops working: the next sync must use the new one.
      rule = await addFault({ kind: "token_revoked", token: near.token });
      const me = new URL(`${stack.threadsApiBaseUrl}/me`);
      me.searchParams.set("access_token", near.token);
      const probe = await fetch(me);
      await probe.body?.cancel();
      assertEquals(probe.status, 400, "the rule refuses the old token");
      const refusals = async () =>
        (await simulatorStats()).faultsInjected
          .token_revoked ?? 0;
      const refusedBefore = await refusals();
      const sync = await post("scheduled-sync", { accountIds: [nearId], wait: true });
      assertEquals(sync.body.status, "completed", JSON.stringify(sync.body));
      assertEquals(sync.body.accounts.completed, 1);
      assertEquals(await refusals(), refusedBefore, "the sync never sent the old token");
    } finally {
      if (rule) await removeFaults(rule);
      await sql.end();
    }
  },
});

Deno.test({
  name: "a token younger than 24 hours is not refreshed, and that is not an error",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const [account] = await simulatedAccounts(1, 1);
      tokens.add(account.token);
      // A token issued just now: refresh the simulator's demo token once, outside the project.
      const fresh = await refreshedOutside(account.token);
      tokens.add(fresh.token);
      const workspaceId = await emptyWorkspace(sql, "refresh-young");
      const connected = await post("connect-account", {
        workspaceId,
        accessToken: fresh.token,
        expiresInSeconds: fresh.expiresIn,
      });
      assertEquals(connected.status, 201, JSON.stringify(connected.body));
      const accountId = connected.body.account.id;
      await expireSoon(sql, accountId);
      const before = await primaryToken(sql, accountId);
      assert(Date.now() - before.issued_at.getTime() < 3_600_000, "issued within the hour");
      const calls = (await simulatorStats()).byEndpoint.refresh_token ?? 0;

      const reply = await post("token-refresh", { accountIds: [accountId], wait: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assertEquals(reply.body.status, "completed", "too young is not a failure");
      assertEquals(reply.body.accounts, {
        total: 1,
        refreshed: 0,
        failed: 0,
        rejected: 0,
        skipped: 1,
      });
      assertEquals(
        (await simulatorStats()).byEndpoint.refresh_token ?? 0,
        calls,
        "the API was not asked",
      );
      assertEquals((await primaryToken(sql, accountId)).id, before.id, "the token is unchanged");
      const [step] = await sql`select status, error_code, error_message from public.sync_logs
        where run_id = ${reply.body.runId}`;
      assertEquals([step.status, step.error_code], ["skipped", "token_too_young"]);
      assertMatch(step.error_message, /24 hours old; .* can be refreshed from /);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "a token the API rejects is marked rejected, shown for reconnecting, and skipped by the next sync",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await connectedWorkspace(sql, 1);
    const [account] = ws.accounts;
    const accountId = ws.ids.get(account.id)!;
    await expireSoon(sql, accountId, 10);
    const rule = await addFault({ kind: "token_revoked", userId: account.id, subcode: 460 });
    let ruleActive = true;
    try {
      const reply = await post("token-refresh", { workspaceId: ws.workspaceId, wait: true });
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      assertEquals(reply.body.status, "partial");
      assertEquals(reply.body.accounts, {
        total: 1,
        refreshed: 0,
        failed: 1,
        rejected: 1,
        skipped: 0,
      });
      const token = await primaryToken(sql, accountId);
      assert(token.rejected_at !== null, "the token is marked rejected");
      assertMatch(token.rejected_reason, /^auth_expired: .*Graph code 190\/460/);
      const [step] = await sql`select status, error_code, error_message from public.sync_logs
        where run_id = ${reply.body.runId}`;
      assertEquals([step.status, step.error_code], ["failed", "auth_expired"]);
      assertMatch(step.error_message, /password changed/);
      assertMatch(step.error_message, /reconnect it \(connect-account\)/);
      const [run] = await sql`select status, metadata from public.system_job_logs
        where id = ${reply.body.runId}`;
      assertEquals([run.status, run.metadata.rejected_count], ["partial", 1]);
      const [health] = await sql`select token_status, needs_reconnect, last_refresh_error_code
        from public.account_token_health where account_id = ${accountId}`;
      assertEquals(
        [health.token_status, health.needs_reconnect, health.last_refresh_error_code],
        ["rejected", true, "auth_expired"],
      );

      // Even with the API answering again, the sync leaves the rejected token alone.
      await removeFaults(rule);
      ruleActive = false;
      const callsBefore = (await simulatorStats()).byAccount[account.id] ?? 0;
      const sync = await post("scheduled-sync", { accountIds: [accountId], wait: true });
      assertEquals(sync.body.accounts.total, 0, JSON.stringify(sync.body));
      assertEquals((await simulatorStats()).byAccount[account.id] ?? 0, callsBefore, "no API call");
      const again = await post("token-refresh", { accountIds: [accountId], wait: true });
      assertEquals(again.body.accounts.total, 0, "token refresh does not retry a rejected token");

      // A reconnect stores a new token and the account syncs again.
      const reconnect = await post("connect-account", {
        workspaceId: ws.workspaceId,
        accessToken: account.token,
        expiresAt: account.tokenExpiresAt,
      });
      assertEquals(reconnect.status, 200, JSON.stringify(reconnect.body));
      const [healed] =
        await sql`select token_status, needs_reconnect from public.account_token_health
        where account_id = ${accountId}`;
      assertEquals([healed.token_status, healed.needs_reconnect], ["ok", false]);
      const resync = await post("scheduled-sync", { accountIds: [accountId], wait: true });
      assertEquals(resync.body.accounts.completed, 1, JSON.stringify(resync.body));
    } finally {
      if (ruleActive) await removeFaults(rule);
      await sql.end();
    }
  },
});

Deno.test({
  name: "a run that finds the token_refresh lock held is recorded as skipped",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const [{ acquired }] = await sql`select acquired from public.claim_job_lock('token_refresh',
        'test-holder', interval '5 minutes')`;
      assert(acquired, "the test holds the lock");
      try {
        const reply = await post("token-refresh", { wait: true });
        assertEquals(reply.status, 200, JSON.stringify(reply.body));
        assertEquals(reply.body.skipped, true);
        const [run] = await sql`select job_type, status, metadata from public.system_job_logs
          where id = ${reply.body.runId}`;
        assertEquals([run.job_type, run.status, run.metadata.reason], [
          "token_refresh",
          "skipped",
          "lock_held",
        ]);
      } finally {
        await sql`select public.release_job_lock('token_refresh', 'test-holder')`;
      }
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "key rotation: a token under the previous key is refreshed and re-encrypted with the new key",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const stack = await testStack();
      const ws = await connectedWorkspace(sql, 1);
      const [account] = ws.accounts;
      const accountId = ws.ids.get(account.id)!;
      await expireSoon(sql, accountId);
      const newKey = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
      const rotated = {
        TOKEN_ENCRYPTION_KEY: newKey,
        TOKEN_ENCRYPTION_KEYS_PREVIOUS: stack.tokenEncryptionKey,
      };
      const reply = await post("token-refresh", { accountIds: [accountId], wait: true }, rotated);
      assertEquals(reply.body.accounts.refreshed, 1, JSON.stringify(reply.body));
      const [step] =
        await sql`select metadata from public.sync_logs where run_id = ${reply.body.runId}`;
      assertEquals(step.metadata.re_encrypted, true);
      const stored = (await primaryToken(sql, accountId)).access_token_encrypted;
      const token = await decrypt(stored, newKey, accountId);
      tokens.add(token);
      assertEquals(token, await currentToken(account.id));
      let oldKeyWorks = true;
      await decrypt(stored, stack.tokenEncryptionKey, accountId).catch(() => oldKeyWorks = false);
      assert(!oldKeyWorks, "the new token is not under the old key");
      const sync = await post("scheduled-sync", { accountIds: [accountId], wait: true }, rotated);
      assertEquals(sync.body.accounts.completed, 1, JSON.stringify(sync.body));
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "pg_cron's command reaches token-refresh through pg_net and the run completes",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const restoreProjectUrl = await pointProjectUrl(sql, await functionsUrl());
    try {
      const ws = await connectedWorkspace(sql, 1);
      const accountId = ws.ids.get(ws.accounts[0].id)!;
      await expireSoon(sql, accountId);
      const [job] =
        await sql`select schedule, command from cron.job where jobname = 'token-refresh'`;
      assertEquals(job.schedule, "7 3 * * *");
      const started = new Date();
      // Exactly what pg_cron runs at 03:07.
      await sql.unsafe(job.command);
      const run = await eventually(
        "the scheduled token refresh run to finish",
        async () => {
          const [row] = await sql`select id, status, trigger from public.system_job_logs
            where job_type = 'token_refresh' and started_at >= ${started} and status <> 'skipped'
            order by started_at desc limit 1`;
          return row && row.status !== "running" ? row : undefined;
        },
        30_000,
        250,
      );
      assertEquals(run.trigger, "cron");
      assert(["completed", "partial"].includes(run.status), run.status);
      const [step] = await sql`select status from public.sync_logs
        where run_id = ${run.id} and workspace_threads_account_id = ${accountId}`;
      assertEquals(step?.status, "completed", "the account's token was refreshed by the cron run");
      const token = await decrypt(
        (await primaryToken(sql, accountId)).access_token_encrypted,
        (await testStack()).tokenEncryptionKey,
        accountId,
      );
      tokens.add(token);
    } finally {
      await restoreProjectUrl();
      await sql.end();
    }
  },
});

Deno.test({
  name: "a run bigger than its time budget hands off through pg_net, each account tried once",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    // One account per invocation: each invocation's budget is spent before it starts.
    const tight = { SYNC_TIME_BUDGET_MS: "1", SYNC_BATCH_SIZE: "1" };
    const restoreProjectUrl = await pointProjectUrl(sql, await functionsUrl(tight));
    try {
      const ws = await connectedWorkspace(sql, 3);
      for (const id of ws.ids.values()) await expireSoon(sql, id);
      const reply = await post("token-refresh", { workspaceId: ws.workspaceId, wait: true }, tight);
      assertEquals(reply.status, 202, JSON.stringify(reply.body));
      assertEquals([reply.body.handedOff, reply.body.invocation.accountsProcessed], [true, 1]);
      const runId = reply.body.runId;
      const status = await runEnded(sql, runId, 30_000);
      assertEquals(status, "completed");
      const [run] = await sql`select invocations, metadata from public.system_job_logs
        where id = ${runId}`;
      assertEquals([run.metadata.handoffs, run.invocations], [2, 3]);
      assertEquals([run.metadata.total_accounts, run.metadata.success_count], [3, 3]);
      const steps =
        await sql`select workspace_threads_account_id as id, status from public.sync_logs
        where run_id = ${runId}`;
      assertEquals(steps.length, 3, "one row per account, none twice");
      assertEquals(new Set(steps.map((s) => s.id)).size, 3);
      for (const id of ws.ids.values()) {
        const token = await primaryToken(sql, id);
        assertEquals(token.obtained_via, "refresh");
        tokens.add(
          await decrypt(token.access_token_encrypted, (await testStack()).tokenEncryptionKey, id),
        );
      }
    } finally {
      await restoreProjectUrl();
      await sql.end();
    }
  },
});

Deno.test({
  name: "no token appears in any function log line, answer, or log table",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      assert(tokens.size >= 10, `the tests used tokens (${tokens.size})`);
      assert(logs.some((l) => l.includes("token_refresh_finished")), "the host's log was captured");
      const text = await logTablesText(sql);
      assertNoTokenIn(tokens, { "log line": logs, answer: answers, "log table": [text] });
    } finally {
      await functions.close();
      await sql.end();
    }
  },
});
