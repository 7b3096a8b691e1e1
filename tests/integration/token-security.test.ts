// Tokens at rest and in flight, end to end (the real functions in a host of the test's own,
// its log lines captured; the real database; the simulator):
//   - a v2 ciphertext copied to another account fails that account's sync with token_mismatch,
//     and nothing else;
//   - a v1 token (earlier releases) still syncs, and token-refresh rewrites it as v2;
//   - a refreshed token whose store fails is stored on a retry, and when every retry fails the
//     loss is recorded (token_store_failed) and logged, without the token.
// The store faults are real: a trigger on the tokens table that raises, as a lock timeout
// does, for the test's account only (a sequence counts the calls, as it survives rollbacks).
import type postgres from "postgres";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testDb, testStack } from "../helpers/stack.ts";
import { currentToken } from "../helpers/simulator.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import { capturingHosts } from "../helpers/functions.ts";
import { assertNoTokenIn, logTablesText, primaryToken } from "../helpers/tokens.ts";
import { decrypt } from "../../supabase/functions/_shared/crypto.ts";
import { STORE_ATTEMPTS } from "../../supabase/functions/_shared/token-refresh/store-token.ts";

const functions = capturingHosts();
const { logs } = functions;
const tokens = new Set<string>();
const post = (name: string, body: unknown) => functions.post(name, body);

/** Brings the account's token into the refresh window, issued long enough ago to refresh. */
async function dueForRefresh(sql: postgres.Sql, accountId: string) {
  await sql`update public.workspace_threads_tokens
    set expires_at = now() + interval '3 days', issued_at = now() - interval '57 days'
    where workspace_threads_account_id = ${accountId} and is_primary and revoked_at is null`;
}

/** A v1 token as earlier releases wrote it (`v1.<iv>.<ciphertext>`, see crypto.ts), built here. */
async function v1Token(plaintext: string, base64Key: string): Promise<string> {
  const b64u = (bytes: Uint8Array) =>
    btoa(String.fromCharCode(...bytes)).replace(/\+/g, "-").replace(/\//g, "_").replace(
      /=+$/,
      "",
    );
  const raw = Uint8Array.from(atob(base64Key), (c) => c.charCodeAt(0));
  const key = await crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]);
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv },
    key,
    new TextEncoder().encode(plaintext),
  );
  return `v1.${b64u(iv)}.${b64u(new Uint8Array(ct))}`;
}

/**
 * Makes storing a token for `accountId` fail `failures` times (then succeed), with the error a
 * lock timeout raises. Returns the cleanup.
 */
async function failTokenStores(sql: postgres.Sql, accountId: string, failures: number) {
  const tag = accountId.replaceAll("-", "");
  await sql.unsafe(`
    create sequence public.test_store_fault_${tag};
    create function public.test_store_fault_${tag}() returns trigger language plpgsql as $f$
    begin
      if new.workspace_threads_account_id = '${accountId}'
         and nextval('public.test_store_fault_${tag}') <= ${failures} then
        raise exception using errcode = '55P03', message = 'canceling statement due to lock timeout';
      end if;
      return new;
    end $f$;
    create trigger test_store_fault_${tag} before insert on public.workspace_threads_tokens
      for each row execute function public.test_store_fault_${tag}();`);
  return async () => {
    await sql.unsafe(`
      drop trigger test_store_fault_${tag} on public.workspace_threads_tokens;
      drop function public.test_store_fault_${tag}();
      drop sequence public.test_store_fault_${tag};`);
  };
}

Deno.test({
  name: "a token copied to another account fails that account's sync with token_mismatch",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const ws = await newWorkspace(2, 2);
      const [source, target] = ws.accounts.map((a) => ws.accountIds.get(a.id)!);
      const copied = (await primaryToken(sql, source)).access_token_encrypted;
      assertMatch(copied, new RegExp(`^v2\\.${source}\\.`));
      await sql`update public.workspace_threads_tokens set access_token_encrypted = ${copied}
        where workspace_threads_account_id = ${target} and is_primary and revoked_at is null`;

      const reply = await post("scheduled-sync", { workspaceId: ws.workspaceId, wait: true });
      assertEquals(reply.status, 200, reply.text);
      assertEquals([reply.body.accounts.completed, reply.body.accounts.failed], [1, 1]);
      const steps = await sql`select workspace_threads_account_id as account, status, error_code,
          error_message
        from public.sync_logs where run_id = ${reply.body.runId} and status = 'failed'`;
      assertEquals(steps.length, 1);
      assertEquals([steps[0].account, steps[0].error_code], [target, "token_mismatch"]);
      assertMatch(
        steps[0].error_message,
        new RegExp(`encrypted for account ${source}, not ${target}: it was copied`),
      );
      const [progress] = await sql`select status, last_error_code from public.sync_run_accounts
        where run_id = ${reply.body.runId} and workspace_threads_account_id = ${target}`;
      assertEquals([progress.status, progress.last_error_code], ["failed", "token_mismatch"]);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "a v1 token still syncs, and token-refresh rewrites it as v2 bound to its account",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const stack = await testStack();
      const ws = await newWorkspace(1, 2);
      const [account] = ws.accounts;
      const accountId = ws.accountIds.get(account.id)!;
      tokens.add(account.token);
      await sql`update public.workspace_threads_tokens
        set access_token_encrypted = ${await v1Token(account.token, stack.tokenEncryptionKey)}
        where workspace_threads_account_id = ${accountId} and is_primary and revoked_at is null`;

      const sync = await post("scheduled-sync", { accountIds: [accountId], wait: true });
      assertEquals(sync.body.accounts.completed, 1, sync.text);

      await dueForRefresh(sql, accountId);
      const refresh = await post("token-refresh", { accountIds: [accountId], wait: true });
      assertEquals(refresh.body.accounts.refreshed, 1, refresh.text);
      const [step] = await sql`select metadata from public.sync_logs
        where run_id = ${refresh.body.runId}`;
      assertEquals(step.metadata.previous_format, "v1");
      const stored = (await primaryToken(sql, accountId)).access_token_encrypted;
      assertMatch(stored, new RegExp(`^v2\\.${accountId}\\.`));
      const fresh = await decrypt(stored, stack.tokenEncryptionKey, accountId);
      tokens.add(fresh);
      assertEquals(fresh, await currentToken(account.id));
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "a refreshed token whose store fails twice is stored on a retry",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(1, 1);
    const [account] = ws.accounts;
    const accountId = ws.accountIds.get(account.id)!;
    tokens.add(account.token);
    await dueForRefresh(sql, accountId);
    const before = await primaryToken(sql, accountId);
    const cleanup = await failTokenStores(sql, accountId, 2);
    try {
      const reply = await post("token-refresh", { accountIds: [accountId], wait: true });
      assertEquals(reply.body.accounts.refreshed, 1, reply.text);
      const [step] = await sql`select status, metadata from public.sync_logs
        where run_id = ${reply.body.runId}`;
      assertEquals([step.status, step.metadata.store_attempts], ["completed", 3]);
      const after = await primaryToken(sql, accountId);
      assert(after.id !== before.id, "the refreshed token is the primary one");
      const fresh = await decrypt(
        after.access_token_encrypted,
        (await testStack()).tokenEncryptionKey,
        accountId,
      );
      tokens.add(fresh);
      assertEquals(fresh, await currentToken(account.id), "the token the API issued was kept");
      assertEquals(
        logs.filter((l) => l.includes('"token_store_retry"') && l.includes(accountId)).length,
        2,
      );
    } finally {
      await cleanup();
      await sql.end();
    }
  },
});

Deno.test({
  name: "a refreshed token that cannot be stored is recorded token_store_failed and logged",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(1, 1);
    const [account] = ws.accounts;
    const accountId = ws.accountIds.get(account.id)!;
    tokens.add(account.token);
    await dueForRefresh(sql, accountId);
    const before = await primaryToken(sql, accountId);
    const cleanup = await failTokenStores(sql, accountId, 1_000);
    try {
      const reply = await post("token-refresh", { accountIds: [accountId], wait: true });
      assertEquals(reply.body.accounts.failed, 1, reply.text);
      tokens.add(await currentToken(account.id));
      const [step] = await sql`select status, error_code, error_message, metadata
        from public.sync_logs where run_id = ${reply.body.runId}`;
      assertEquals([step.status, step.error_code], ["failed", "token_store_failed"]);
      assertEquals(step.metadata.store_attempts, STORE_ATTEMPTS);
      assertMatch(step.error_message, /could not be stored after 5 attempt\(s\) \(canceling/);
      assertMatch(step.error_message, /the previous token stays primary/);
      assertEquals((await primaryToken(sql, accountId)).id, before.id, "the old token is kept");
      const lost = logs.filter((l) =>
        l.includes('"refreshed_token_not_stored"') && l.includes(accountId)
      );
      assertEquals(lost.length, 1, "the loss is logged once");
      assertMatch(lost[0], /"level":"error"/);
    } finally {
      await cleanup();
      await sql.end();
    }
  },
});

Deno.test({
  name: "no token appears in these tests' function log lines or log tables",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      assert(tokens.size >= 6, `the tests used tokens (${tokens.size})`);
      const text = await logTablesText(sql);
      assertNoTokenIn(tokens, { "log line": logs, "log table": [text] });
    } finally {
      await functions.close();
      await sql.end();
    }
  },
});
