// `npm run status` as an operator runs it: a subprocess against the test stack after a known
// sequence of runs. What an operator relies on: the runs just made appear with their status,
// the account that just failed is listed as needing attention with its error, --json is one
// parseable object with the same facts, and --watch redraws until interrupted.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { testStack } from "../helpers/stack.ts";
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
    assertEquals(report.thresholds, { staleMinutes: 30, tokenWarningDays: 7 });
    assert(
      !report.attention.some((a: { accountId: string }) =>
        a.accountId === s.ws.accountIds.get(s.ws.accounts[1].id)
      ),
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
