// The operator commands' arguments: what an operator types becomes the request the function
// gets, and every mistake is a usage error naming the flag (exit 2), never a half-run.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { type Command, runCommand, UsageError, withOptionalValue } from "../../cli/lib/args.ts";
import { formatAge, formatDuration, parseSince } from "../../cli/lib/time.ts";
import { parseSyncArgs } from "../../cli/sync/args.ts";
import { parseStatusArgs, statusCommand } from "../../cli/status.ts";
import { syncCommand } from "../../cli/sync.ts";
import { connectAccountCommand, parseConnectAccountArgs } from "../../cli/connect-account.ts";

const NOW = new Date("2026-11-23T12:00:00Z");
const A = "0b9c7f5e-1f63-4c4e-9d0e-2d1c6b1b7a11";
const B = "5d6f0a3c-8e1b-4f0a-b2c4-7a9e1d3f5b22";

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert(error instanceof UsageError, `expected a UsageError, got ${error}`);
    return error.message;
  }
  throw new Error("expected a UsageError, got none");
}

Deno.test("parseSince reads ages and ISO times, and refuses the rest", () => {
  assertEquals(parseSince("2h", NOW).toISOString(), "2026-11-23T10:00:00.000Z");
  assertEquals(parseSince("30m", NOW).toISOString(), "2026-11-23T11:30:00.000Z");
  assertEquals(parseSince("1d", NOW).toISOString(), "2026-11-22T12:00:00.000Z");
  assertEquals(parseSince("90s", NOW).toISOString(), "2026-11-23T11:58:30.000Z");
  assertEquals(
    parseSince("2026-11-23T09:15:00Z", NOW).toISOString(),
    "2026-11-23T09:15:00.000Z",
  );
  assertMatch(usageError(() => parseSince("yesterday", NOW)), /--failed-since must be an age/);
  assertMatch(usageError(() => parseSince("2h ago", NOW)), /current value is "2h ago"/);
  assertMatch(
    usageError(() => parseSince("2026-11-24T00:00:00Z", NOW)),
    /must not be in the future/,
  );
});

Deno.test("durations and ages read the way an operator says them", () => {
  assertEquals(
    [0, 4.4, 65, 3725, 180_000].map(formatDuration),
    ["0s", "4s", "1m05s", "1h02m", "2d02h"],
  );
  assertEquals(formatDuration(null), "");
  assertEquals(formatAge(null, NOW), "never");
  assertEquals(formatAge(new Date(NOW.getTime() - 20_000), NOW), "just now");
  assertEquals(formatAge(new Date(NOW.getTime() - 12 * 60_000), NOW), "12 min ago");
  assertEquals(formatAge(new Date(NOW.getTime() - 3 * 3600_000), NOW), "3 h ago");
});

Deno.test("sync flags become the function's body fields", () => {
  const o = parseSyncArgs(
    ["--account", A, "--account", B.toUpperCase(), "--max-accounts", "5"],
    {},
  );
  assertEquals(o.accountIds, [A, B]);
  assertEquals(o.maxAccounts, 5);
  assertEquals(o.dryRun, false);
  const w = parseSyncArgs(["--workspace", A, "--dry-run", "--failed-since", "2h"], {}, NOW);
  assertEquals([w.workspaceId, w.dryRun, w.failedSince?.toISOString()], [
    A,
    true,
    "2026-11-23T10:00:00.000Z",
  ]);
});

Deno.test("sync refuses contradictory or malformed flags with a usage error naming them", () => {
  assertMatch(usageError(() => parseSyncArgs(["--account", "x"], {})), /--account must be a UUID/);
  assertMatch(
    usageError(() => parseSyncArgs(["--account", A, "--workspace", B], {})),
    /--account and --workspace cannot be combined/,
  );
  assertMatch(
    usageError(() => parseSyncArgs(["--account", A, "--failed-since", "1h"], {})),
    /--account and --failed-since/,
  );
  assertMatch(
    usageError(() => parseSyncArgs(["--max-accounts", "0"], {})),
    /--max-accounts must be an integer >= 1/,
  );
  assertMatch(usageError(() => parseSyncArgs(["--nope"], {})), /nope/);
  assertMatch(usageError(() => parseSyncArgs(["extra"], {})), /extra/);
});

Deno.test("a hosted project needs its cron secret; the environment may give it", () => {
  assertMatch(
    usageError(() => parseSyncArgs(["--url", "https://abc.supabase.co"], {})),
    /--url needs the project's cron secret/,
  );
  const o = parseSyncArgs(["--url", "https://abc.supabase.co/functions/v1/"], {
    CRON_SECRET: "s3cret",
    DATABASE_URL: "postgresql://x@db/postgres",
  });
  assertEquals([o.url, o.secret, o.dbUrl], [
    "https://abc.supabase.co",
    "s3cret",
    "postgresql://x@db/postgres",
  ]);
  assertMatch(
    usageError(() =>
      parseSyncArgs(["--url", "https://abc.supabase.co", "--failed-since", "1h"], {
        CRON_SECRET: "s",
      })
    ),
    /--failed-since reads the project's database/,
  );
  // Locally the stack's own secret and database are used, whatever the environment says.
  const local = parseSyncArgs([], { CRON_SECRET: "hosted", DATABASE_URL: "postgresql://h/db" });
  assertEquals([local.url, local.secret, local.dbUrl], [null, null, null]);
});

Deno.test("status: --watch takes an optional interval, --db-url falls back to DATABASE_URL", () => {
  assertEquals(withOptionalValue(["--watch"], "--watch", "5"), ["--watch=5"]);
  assertEquals(withOptionalValue(["--watch", "--json"], "--watch", "5"), ["--watch=5", "--json"]);
  assertEquals(withOptionalValue(["--watch", "2"], "--watch", "5"), ["--watch", "2"]);
  const o = parseStatusArgs(["--watch", "--limit", "3"], { DATABASE_URL: "postgresql://h/db" });
  assertEquals([o.watchSeconds, o.limit, o.dbUrl, o.json], [5, 3, "postgresql://h/db", false]);
  assertEquals(parseStatusArgs(["--watch", "0.5", "--json"], {}).watchSeconds, 0.5);
  assertEquals(parseStatusArgs([], {}).limit, 10);
  assertMatch(usageError(() => parseStatusArgs(["--limit", "-1"], {})), /--limit/);
  assertMatch(usageError(() => parseStatusArgs(["--watch", "0"], {})), /--watch must be/);
});

Deno.test("connect-account's flags are checked like the other commands'", () => {
  const options = parseConnectAccountArgs(
    ["--workspace", A.toUpperCase(), "--expires-in", "5183944", "--url", "https://x.supabase.co/"],
    { CONNECT_ACCOUNT_SECRET: "s", THREADS_ACCESS_TOKEN: "THtoken" },
  );
  assertEquals(
    [options.workspaceId, options.expiresInSeconds, options.url, options.secret, options.token],
    [A, 5183944, "https://x.supabase.co/functions/v1", "s", "THtoken"],
  );
  assertMatch(
    usageError(() => parseConnectAccountArgs(["--workspace", "ws1"], {})),
    /--workspace must be a UUID: current value is "ws1"/,
  );
  assertMatch(
    usageError(() => parseConnectAccountArgs(["--expires-in", "0"], {})),
    /--expires-in must be an integer >= 1/,
  );
  assertMatch(
    usageError(() => parseConnectAccountArgs(["--deactivate", A, "--token", "t"], {})),
    /--token cannot go with --deactivate/,
  );
  assertMatch(
    usageError(() => parseConnectAccountArgs(["--url", "https://x.supabase.co"], {})),
    /--secret \(or CONNECT_ACCOUNT_SECRET\) is required with --url/,
  );
});

/** What a command prints and the status it exits with, for the given arguments. */
async function outcome(run: () => Promise<number>) {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...args: unknown[]) => out.push(args.join(" "));
  console.error = (...args: unknown[]) => err.push(args.join(" "));
  try {
    return { code: await run(), stdout: out.join("\n"), stderr: err.join("\n") };
  } finally {
    Object.assign(console, { log, error });
  }
}

Deno.test("every command starts the same way: --help exits 0, a usage error exits 2 with a hint", async () => {
  const commands: Command<{ help: boolean }>[] = [
    statusCommand,
    syncCommand,
    connectAccountCommand,
  ];
  for (const command of commands) {
    const help = await outcome(() => runCommand(command, ["--help"], {}));
    assertEquals(help.code, 0, command.name);
    assertMatch(help.stdout, /^Usage:/);
    const bad = await outcome(() => runCommand(command, ["--no-such-flag"], {}));
    assertEquals(bad.code, 2, command.name);
    assertMatch(bad.stderr, /'--no-such-flag'/);
    assertMatch(
      bad.stderr,
      new RegExp(`Run \`npm run ${command.name} -- --help\` for the options\.$`),
    );
  }
});

Deno.test("a usage error found while running (no token on stdin) exits 2 too", async () => {
  const { code, stderr } = await outcome(() =>
    runCommand(connectAccountCommand, ["--workspace", A, "--url", "http://127.0.0.1:9"], {
      CONNECT_ACCOUNT_SECRET: "s",
    })
  );
  assertEquals(code, 2);
  assertMatch(stderr, /^a token is required: --token, --token-stdin or THREADS_ACCESS_TOKEN/);
});
