// `npm run status` as an operator runs it: a subprocess against the test stack after a known
// sequence of runs. What an operator relies on: the runs just made appear with their status,
// the account that just failed is listed as needing attention with its error, --json is one
// parseable object with the same facts, and --watch redraws until interrupted.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testDb, testStack } from "../helpers/stack.ts";
import { addFault, removeFaults } from "../helpers/simulator.ts";
import { callSync } from "../helpers/sync.ts";
import { newWorkspace, type TestWorkspace } from "../helpers/workspace.ts";
import { cliCommand, runCli } from "../helpers/cli.ts";

const command = (args: string[]) => cliCommand("status", args);
const status = (args: string[]) => runCli("status", args);

interface Scenario {
  ws: TestWorkspace;
  completedRun: string;
  partialRun: string;
  failing: TestWorkspace["accounts"][number];
}

/** A completed run, then a partial one in which one account's post list is broken. */
let scenario: Promise<Scenario> | undefined;
function knownRuns(): Promise<Scenario> {
  scenario ??= (async () => {
    const ws = await newWorkspace(2, 4);
    const failing = ws.accounts[0];
    const first = await callSync({ workspaceId: ws.workspaceId, wait: true });
    assertEquals(first.body.status, "completed", JSON.stringify(first.body));
    const fault = await addFault({
      kind: "malformed",
      variant: "html",
      userId: failing.id,
      endpoints: ["threads"],
    });
    try {
      const second = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(second.body.status, "partial", JSON.stringify(second.body));
      return { ws, completedRun: first.body.runId, partialRun: second.body.runId, failing };
    } finally {
      await removeFaults(fault);
    }
  })();
  return scenario;
}

Deno.test({
  name: "status shows the recent runs with their status and the failing account with its error",
  sanitizeResources: false,
  fn: async () => {
    const s = await knownRuns();
    // Scoped to the test's workspace: other tests' failing accounts would crowd the table.
    const result = await status(["--limit", "20", "--workspace", s.ws.workspaceId]);
    assertEquals(result.code, 0, result.stderr);
    assertMatch(result.stdout, new RegExp(`Workspace ${s.ws.workspaceId}: its accounts`));
    const lines = result.stdout.split("\n");
    // First line: the freshness objective for this workspace. The failing account's last
    // complete sync (the first run) is still younger than the 30-minute target.
    assertMatch(
      lines[0],
      /^Freshness: 100% fresh \(2 of 2 active accounts synced within 30 min; objective 95%\) · oldest complete sync (just now|\d+ min ago)$/,
    );
    const runLine = (id: string) => lines.find((l) => l.includes(id)) ?? "";
    assertMatch(
      runLine(s.completedRun),
      /\bmanual\s+manual\s+completed\s+\d+s\s+2\s+2\s+0\s+0\s+0\s+\d+/,
    );
    assertMatch(
      runLine(s.partialRun),
      /\bmanual\s+manual\s+partial\s+\d+s\s+2\s+1\s+1\s+0\s+0\s+\d+/,
    );
    // Newest first.
    assert(lines.indexOf(runLine(s.partialRun)) < lines.indexOf(runLine(s.completedRun)));
    const attention = lines.slice(lines.findIndex((l) => l.startsWith("Accounts that need")));
    const row = attention.find((l) => l.includes(`@${s.failing.username} `)) ?? "";
    assertMatch(row, /failing\s+just now\s+1\s+in \d+ d\s+bad_response: /);
    const healthy = s.ws.accounts[1].username;
    assert(!attention.some((l) => l.includes(`@${healthy} `)), `@${healthy} is healthy`);
    assertMatch(attention[0], /^Accounts that need attention \(1\)/);
  },
});

Deno.test({
  name: "status --json is one object with the runs and the accounts needing attention",
  sanitizeResources: false,
  fn: async () => {
    const s = await knownRuns();
    const result = await status(["--json", "--limit", "20"]);
    assertEquals(result.code, 0, result.stderr);
    const report = JSON.parse(result.stdout);
    const run = (id: string) => report.runs.find((r: { id: string }) => r.id === id);
    assertEquals(run(s.completedRun).status, "completed");
    assertEquals(run(s.partialRun).status, "partial");
    assertEquals(run(s.partialRun).accounts, {
      total: 2,
      ok: 1,
      partial: 1,
      failed: 0,
      skipped: 0,
      unfinished: 0,
    });
    assert(run(s.partialRun).apiCalls > 0);
    const failing = report.attention.find((a: { accountId: string }) =>
      a.accountId === s.ws.accountIds.get(s.failing.id)
    );
    assert(failing, "the failing account needs attention");
    assertEquals(failing.issues, ["failing"]);
    assertEquals(failing.consecutiveFailures, 1);
    assertEquals([failing.lastError.step, failing.lastError.code], ["sync_posts", "bad_response"]);
    assertEquals(failing.workspaceId, s.ws.workspaceId);
    assertEquals(report.thresholds, { staleMinutes: 30 });
    // Overall freshness, as the view sync_freshness says (other tests' accounts included).
    const sql = await testDb();
    const [overall] = await sql`
      select fresh_accounts, active_accounts from public.sync_freshness where scope = 'overall'`
      .finally(() => sql.end());
    assertEquals(
      [report.freshness.freshAccounts, report.freshness.activeAccounts],
      [Number(overall.fresh_accounts), Number(overall.active_accounts)],
    );
    assertEquals([report.freshness.targetMinutes, report.freshness.minShare], [30, 0.95]);
    assert(
      !report.attention.some((a: { accountId: string }) =>
        a.accountId === s.ws.accountIds.get(s.ws.accounts[1].id)
      ),
      "the healthy account is not listed",
    );
  },
});

Deno.test({
  name:
    "status says what account_sync_state and account_token_health say: a token 10 days out is expiring soon",
  sanitizeResources: false,
  fn: async () => {
    const ws = await newWorkspace(2, 2);
    const synced = await callSync({ workspaceId: ws.workspaceId, wait: true });
    assertEquals(synced.body.status, "completed", JSON.stringify(synced.body));
    const [expiring, fine] = ws.accounts.map((a) => ws.accountIds.get(a.id)!);
    const sql = await testDb();
    let views;
    try {
      // Within the view's 15 days, outside the 7 the command used to warn at.
      await sql`update public.workspace_threads_tokens
        set expires_at = now() + interval '10 days 1 hour'
        where workspace_threads_account_id = ${expiring} and is_primary and revoked_at is null`;
      views = await sql`select s.account_id, s.state, t.token_status, t.days_until_expiry
        from public.account_sync_state s
        join public.account_token_health t on t.account_id = s.account_id
        where t.workspace_id = ${ws.workspaceId}`;
    } finally {
      await sql.end();
    }
    const view = (id: string) => views.find((v) => v.account_id === id)!;
    assertEquals([view(expiring).state, view(expiring).token_status], ["healthy", "expiring_soon"]);
    assertEquals([view(fine).state, view(fine).token_status], ["healthy", "ok"]);

    const json = await status(["--json", "--workspace", ws.workspaceId]);
    assertEquals(json.code, 0, json.stderr);
    const report = JSON.parse(json.stdout);
    assertEquals(report.attention.length, 1, json.stdout);
    const row = report.attention[0];
    assertEquals(row.accountId, expiring);
    assertEquals(row.state, view(expiring).state);
    assertEquals(row.token.status, view(expiring).token_status);
    assertEquals(row.token.daysUntilExpiry, view(expiring).days_until_expiry);
    assertEquals(row.issues, ["token_expiring_soon"]);

    const text = await status(["--workspace", ws.workspaceId]);
    assertEquals(text.code, 0, text.stderr);
    const username = ws.accounts[0].username;
    const line = text.stdout.split("\n").find((l) => l.includes(`@${username} `)) ?? "";
    assertMatch(line, /token expiring soon\s+just now\s+0\s+expiring soon: in 10 d/);
    assert(
      !text.stdout.includes(`@${ws.accounts[1].username} `),
      "the healthy account is not listed",
    );
  },
});

Deno.test({
  name: "status --watch --json prints a fresh object per refresh until Ctrl-C, then exits 0",
  sanitizeResources: false,
  fn: async () => {
    await testStack();
    const child = command(["--watch", "0.2", "--json", "--limit", "1"]).spawn();
    let stdout = "";
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    while (stdout.split("\n").length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      stdout += value;
    }
    child.kill("SIGINT");
    while (!(await reader.read()).done) { /* drain */ }
    const { code } = await child.status;
    await child.stderr.cancel();
    assertEquals(code, 0);
    const objects = stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert(objects.length >= 2, stdout);
    assert(objects[1].generatedAt > objects[0].generatedAt, "each refresh reads again");
  },
});

Deno.test({
  name: "status --help prints the usage; a bad flag is a usage error (exit 2)",
  sanitizeResources: false,
  fn: async () => {
    const help = await status(["--help"]);
    assertEquals(help.code, 0);
    assertMatch(help.stdout, /^Usage: npm run status -- \[options\]/);
    const bad = await status(["--limit", "none"]);
    assertEquals(bad.code, 2);
    assertMatch(bad.stderr, /--limit must be an integer >= 1: current value is "none"/);
  },
});
