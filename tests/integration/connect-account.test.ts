// connect-account end to end: the real function in a functions host of the test's own (its
// log lines captured), the real database, the Threads API simulator. What an operator checks:
// the account is there with its username, the token is stored encrypted as the only primary
// one, a bad token is refused with the API's reason and stores nothing, and no token is ever
// printed, answered or logged. The operator command (cli/connect-account.ts) is
// driven the same way.
import { join } from "node:path";
import type postgres from "postgres";
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testDb, testStack, testStackEnv } from "../helpers/stack.ts";
import {
  addFault,
  refreshedOutside,
  removeFaults,
  type SimulatedAccount,
  simulatedAccounts,
} from "../helpers/simulator.ts";
import { callSync } from "../helpers/sync.ts";
import { type CallOptions, capturingHosts } from "../helpers/functions.ts";
import { assertNoTokenIn } from "../helpers/tokens.ts";
import { emptyWorkspace } from "../helpers/workspace.ts";
import { decrypt } from "../../supabase/functions/_shared/crypto.ts";

/** The test's functions host: every line it printed, and every answer the functions gave. */
const functions = capturingHosts();
const { logs, answers } = functions;
/** Every token the tests handed to the functions: none may show up in logs or answers. */
const tokens = new Set<string>();
const functionsUrl = () => functions.url();
const post = (name: string, body: unknown, options: CallOptions = {}) =>
  functions.post(name, body, options);

const connect = (body: Record<string, unknown>) => {
  if (typeof body.accessToken === "string") tokens.add(body.accessToken);
  return post("connect-account", body);
};

async function newSimAccounts(count: number): Promise<SimulatedAccount[]> {
  const accounts = await simulatedAccounts(count, 3);
  for (const a of accounts) tokens.add(a.token);
  return accounts;
}

const newWorkspaceId = (sql: postgres.Sql) => emptyWorkspace(sql, "connect-test");

/** A fresh token for the account, straight from the simulator's refresh endpoint. */
async function freshToken(account: SimulatedAccount) {
  const fresh = await refreshedOutside(account.token);
  tokens.add(fresh.token);
  return fresh;
}

async function primaryTokens(sql: postgres.Sql, accountId: string) {
  return await sql`select id, access_token_encrypted, expires_at, revoked_at, obtained_via
    from public.workspace_threads_tokens where workspace_threads_account_id = ${accountId}
    order by created_at`;
}

Deno.test({
  name: "connect-account connects a valid token: 201, the profile's username, the token encrypted",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const stack = await testStack();
      const [account] = await newSimAccounts(1);
      const workspaceId = await newWorkspaceId(sql);
      const reply = await connect({
        workspaceId,
        accessToken: account.token,
        expiresAt: account.tokenExpiresAt,
      });
      assertEquals(reply.status, 201, JSON.stringify(reply.body));
      assertEquals(reply.body.created, true);
      assertEquals(reply.body.account.username, account.username);
      assertEquals(reply.body.account.threadsUserId, account.id);
      assertEquals(reply.body.account.isActive, true);
      assertEquals(reply.body.token.expiresAt, new Date(account.tokenExpiresAt).toISOString());
      assertEquals(reply.body.token.expiresAtAssumed, false);

      const [row] = await sql`select id, workspace_id, username, is_active
        from public.workspace_threads_accounts
        where workspace_id = ${workspaceId} and threads_user_id = ${account.id}`;
      assertEquals(row.id, reply.body.account.id);
      const stored = await primaryTokens(sql, row.id);
      assertEquals(stored.length, 1);
      assertMatch(stored[0].access_token_encrypted, new RegExp(`^v2\\.${row.id}\\.`));
      assert(!stored[0].access_token_encrypted.includes(account.token), "encrypted at rest");
      assertEquals(
        await decrypt(stored[0].access_token_encrypted, stack.tokenEncryptionKey, row.id),
        account.token,
      );
      assertEquals(stored[0].obtained_via, "connect");

      // The connected account is synced like any other.
      const sync = await callSync({ accountIds: [row.id], wait: true });
      assertEquals(sync.body.status, "completed", JSON.stringify(sync.body));
      assertEquals(sync.body.accounts.completed, 1);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "reconnecting replaces the primary token; deactivating stops syncs and reconnecting reactivates",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const stack = await testStack();
      const [account] = await newSimAccounts(1);
      const workspaceId = await newWorkspaceId(sql);
      const first = await connect({ workspaceId, accessToken: account.token });
      assertEquals(first.status, 201, JSON.stringify(first.body));
      assertEquals(first.body.token.expiresAtAssumed, true, "no expiry given: 60 days assumed");
      const accountId = first.body.account.id;

      const second = await freshToken(account);
      const again = await connect({
        workspaceId,
        accessToken: second.token,
        expiresInSeconds: second.expiresIn,
      });
      assertEquals(again.status, 200, JSON.stringify(again.body));
      assertEquals([again.body.created, again.body.reactivated], [false, false]);
      assertEquals(again.body.account.id, accountId, "the same account");
      assertEquals(again.body.token.replacedTokenId, first.body.token.id);
      const rows = await primaryTokens(sql, accountId);
      assertEquals(rows.length, 2);
      assert(rows[0].revoked_at !== null, "the first token is revoked");
      assertEquals(rows.filter((r) => r.revoked_at === null).length, 1, "one live token");
      assertEquals(
        await decrypt(rows[1].access_token_encrypted, stack.tokenEncryptionKey, accountId),
        second.token,
      );

      // Deactivate: no more syncs, history kept.
      const synced = await callSync({ accountIds: [accountId], wait: true });
      assertEquals(synced.body.accounts.completed, 1);
      const off = await post("connect-account", { accountId, deactivate: true });
      assertEquals(off.status, 200, JSON.stringify(off.body));
      assertEquals([off.body.deactivated, off.body.account.isActive], [true, false]);
      const offAgain = await post("connect-account", { accountId, deactivate: true });
      assertEquals(offAgain.body.deactivated, false, "deactivating twice changes nothing");
      const skippedSync = await callSync({ accountIds: [accountId], wait: true });
      assertEquals(skippedSync.body.accounts.total, 0, "a deactivated account is not synced");
      const [{ posts }] =
        await sql`select count(*)::int as posts from public.workspace_threads_posts
        where workspace_threads_account_id = ${accountId}`;
      assertEquals(posts, 3, "its posts are kept");

      // Reconnect with a token: the same account, active again.
      const third = await freshToken(account);
      const back = await connect({ workspaceId, accessToken: third.token });
      assertEquals(back.status, 200, JSON.stringify(back.body));
      assertEquals([back.body.created, back.body.reactivated], [false, true]);
      assertEquals(back.body.account.id, accountId);
      const resync = await callSync({ accountIds: [accountId], wait: true });
      assertEquals(resync.body.accounts.completed, 1, JSON.stringify(resync.body));
      assertEquals(back.body.warnings, []);

      // A token about to expire is stored, with a warning (a short-lived token, probably).
      const fourth = await freshToken(account);
      const short = await connect({
        workspaceId,
        accessToken: fourth.token,
        expiresInSeconds: 3600,
      });
      assertEquals(short.status, 200, JSON.stringify(short.body));
      assertEquals(short.body.warnings.length, 1);
      assertMatch(short.body.warnings[0], /short-lived token/);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "an invalid or expired token is refused with 422 and the API's reason; nothing is stored",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    const [account] = await newSimAccounts(1);
    const rule = await addFault({ kind: "token_expired", token: account.token });
    try {
      const workspaceId = await newWorkspaceId(sql);
      const invalid = `THQV${crypto.randomUUID().replaceAll("-", "")}`;
      const bad = await connect({ workspaceId, accessToken: invalid });
      assertEquals(bad.status, 422, JSON.stringify(bad.body));
      assertEquals(bad.body.error, "token_rejected");
      assertEquals(bad.body.graphCode, 190);
      assertMatch(bad.body.detail, /Cannot parse access token/);

      const expired = await connect({ workspaceId, accessToken: account.token });
      assertEquals(expired.status, 422, JSON.stringify(expired.body));
      assertEquals([expired.body.error, expired.body.graphSubcode], ["token_rejected", 463]);
      assertMatch(expired.body.detail, /has expired/);

      const past = await connect({
        workspaceId,
        accessToken: account.token,
        expiresAt: new Date(Date.now() - 60_000).toISOString(),
      });
      assertEquals([past.status, past.body.error], [422, "token_expired"]);

      const [{ n }] = await sql`select count(*)::int as n from public.workspace_threads_accounts
        where workspace_id = ${workspaceId}`;
      assertEquals(n, 0, "nothing stored");
    } finally {
      await removeFaults(rule);
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "connect-account refuses bad requests: 401, 405, 400 naming the field, 404 unknown workspace",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const [account] = await newSimAccounts(1);
      const workspaceId = await newWorkspaceId(sql);
      const cases: [
        Promise<{ status: number; body: { error: string; detail: string } }>,
        number,
        RegExp,
      ][] = [
        [post("connect-account", {}, { secret: null }), 401, /unauthorized/],
        [post("connect-account", {}, { secret: "a-wrong-secret-of-length" }), 401, /unauthorized/],
        // The cron secret (in Vault, for pg_cron) does not connect accounts.
        [
          post("connect-account", {}, { secret: (await testStack()).cronSecret }),
          401,
          /unauthorized/,
        ],
        [post("connect-account", {}, { method: "GET" }), 405, /method_not_allowed/],
        [connect({ workspaceId }), 400, /accessToken is required/],
        [
          connect({ workspaceId: "nope", accessToken: account.token }),
          400,
          /workspaceId must be a UUID/,
        ],
        [
          connect({ workspaceId, accessToken: account.token, admin: true }),
          400,
          /unknown keys: admin/,
        ],
        [
          connect({
            workspaceId,
            accessToken: account.token,
            expiresAt: "2030-01-01T00:00:00Z",
            expiresInSeconds: 60,
          }),
          400,
          /expiresInSeconds cannot be combined with expiresAt/,
        ],
        [
          connect({ workspaceId, accessToken: account.token, expiresInSeconds: 5_184_000_000 }),
          400,
          /expiresInSeconds must be at most/,
        ],
        [
          post("connect-account", { accountId: crypto.randomUUID() }),
          400,
          /only used with deactivate/,
        ],
        [
          connect({ workspaceId: crypto.randomUUID(), accessToken: account.token }),
          404,
          /unknown_workspace/,
        ],
        [
          post("connect-account", { accountId: crypto.randomUUID(), deactivate: true }),
          404,
          /unknown_account/,
        ],
      ];
      for (const [call, status, pattern] of cases) {
        const reply = await call;
        assertEquals(reply.status, status, JSON.stringify(reply.body));
        assertMatch(`${reply.body.error} ${reply.body.detail}`, pattern);
      }
    } finally {
      await sql.end();
    }
  },
});

async function runCli(args: string[], stdin?: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "cli/connect-account.ts", ...args],
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
    env: { ...testStackEnv(), NO_COLOR: "1" },
  }).spawn();
  if (stdin !== undefined) {
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(stdin));
    await writer.close();
  }
  const out = await child.output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  answers.push(text);
  return { code: out.code, text };
}

Deno.test({
  name: "the operator command connects an account through the function and never prints the token",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const sql = await testDb();
    try {
      const stack = await testStack();
      const [account] = await newSimAccounts(1);
      const workspaceId = await newWorkspaceId(sql);
      const target = [
        "--url",
        (await functionsUrl()).replace(/\/functions\/v1$/, ""),
        "--secret",
        stack.connectAccountSecret,
      ];
      const ok = await runCli(
        [
          ...target,
          "--workspace",
          workspaceId,
          "--token-stdin",
          "--expires-at",
          account.tokenExpiresAt,
        ],
        account.token + "\n",
      );
      assertEquals(ok.code, 0, ok.text);
      assertMatch(ok.text, new RegExp(`Connected @${account.username} `));
      const [row] = await sql`select id from public.workspace_threads_accounts
        where workspace_id = ${workspaceId} and threads_user_id = ${account.id}`;
      assert(row, "the account exists");

      const invalid = `THQV${crypto.randomUUID().replaceAll("-", "")}`;
      tokens.add(invalid);
      const refused = await runCli([...target, "--workspace", workspaceId, "--token", invalid]);
      assertEquals(refused.code, 1, refused.text);
      assertMatch(refused.text, /Refused \(HTTP 422, token_rejected\)/);

      const off = await runCli([...target, "--deactivate", row.id]);
      assertEquals(off.code, 0, off.text);
      assertMatch(off.text, /Deactivated @/);

      const usage = await runCli(["--workspace", workspaceId]);
      assertEquals(usage.code, 2, usage.text);
      assertMatch(usage.text, /a token is required/);

      // The default target is the local stack the STACK_* variables name.
      const local = await runCli(["--workspace", workspaceId, "--token", account.token]);
      assertEquals(local.code, 0, local.text);
      assertMatch(local.text, /Reactivated @/);
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name: "no token appears in any answer, CLI output or function log line",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    try {
      assert(tokens.size >= 8, `the tests used tokens (${tokens.size})`);
      assert(logs.some((l) => l.includes("account_connected")), "the host's log was captured");
      assert(logs.some((l) => l.includes("token_rejected")), "refusals were logged");
      const stack = await testStack();
      // The stack's own functions host served the CLI's local call: its log counts too.
      const stackLog = Deno.readTextFileSync(join(stack.logsDir, "functions.log"));
      assertNoTokenIn(tokens, { log: logs, answer: answers, "stack log": [stackLog] });
    } finally {
      await functions.close();
    }
  },
});
