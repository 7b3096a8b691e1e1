/**
 * `npm run sync`: a manual sync from the terminal, through the real scheduled-sync function
 * (supabase-js `functions.invoke` with the cron secret), followed live in the database until
 * the run ends, then a summary per account and the exit status a script expects.
 * Run with --help for the options.
 *
 * Choices:
 *   - The lock. A sync of every account is a scheduled run and takes the job lock; when a
 *     scheduled run already holds it, the function records a skipped run and answers
 *     `{"skipped": true, "runningRunId"}`. The command then follows that running run instead
 *     (it is syncing the same accounts) and exits with its outcome. Without a database to
 *     follow it in, it says so and exits 1.
 *   - Without a database (a hosted project and no --db-url) the call waits for the run
 *     (`"wait": true`) under a spinner; a run too long for one invocation is handed off, and
 *     the command then exits 1 saying where to look.
 *   - Ctrl-C stops following, not the run: it goes on in the background (exit 130).
 */
import type postgres from "postgres";
import { type Command, EXIT_FAILED, EXIT_OK, exitWith } from "./lib/args.ts";
import { colorEnabled, type Palette, palette } from "./lib/colors.ts";
import { findFailedAccounts } from "./sync/failed-accounts.ts";
import { LiveLine, withSpinner } from "./lib/progress-bar.ts";
import { followRun } from "./sync/follow.ts";
import { type FunctionTarget, InvokeError, invokeSync, type SyncBody } from "./sync/invoke.ts";
import { renderDryRun, renderReplySummary, renderRunSummary } from "./sync/summary.ts";
import { connectDb, describeDbError, localStack, redactUrl } from "./lib/target.ts";
import { formatAge } from "./lib/time.ts";
import { parseSyncArgs, SYNC_USAGE, type SyncOptions } from "./sync/args.ts";

/** Ctrl-C while following: 128 + SIGINT, as shells report it. */
const EXIT_DETACHED = 130;

/** Which accounts a request body covers, in words. */
function describeScope(body: SyncBody): string {
  let scope = body.accountIds
    ? `${body.accountIds.length} account(s)`
    : body.workspaceId
    ? `the accounts of workspace ${body.workspaceId}`
    : "every active account";
  if (body.maxAccounts) scope += `, at most ${body.maxAccounts}`;
  return scope;
}

async function run(options: SyncOptions): Promise<number> {
  let target: FunctionTarget;
  let where: string;
  let dbUrl = options.dbUrl;
  if (options.url) {
    target = {
      url: options.url,
      cronSecret: options.secret!,
      anonKey: options.anonKey ?? undefined,
    };
    where = options.url;
  } else {
    const stack = await localStack(
      dbUrl ? ["functions"] : ["database", "functions"],
      "pass --url (a hosted project)",
    );
    target = {
      url: stack.apiUrl,
      cronSecret: options.secret ?? stack.cronSecret,
      anonKey: options.anonKey ?? stack.anonKey,
    };
    dbUrl ??= stack.dbUrl;
    where = `local stack "${stack.name}" (${stack.apiUrl})`;
  }
  const dbWhere = dbUrl ? redactUrl(dbUrl) : "";
  const sql = dbUrl ? connectDb(dbUrl) : null;
  const p = palette(colorEnabled());
  try {
    return await sync(options, target, where, sql, dbWhere, p);
  } catch (error) {
    if (error instanceof InvokeError) console.error(`Cannot sync: ${error.message}`);
    else if ((error as { code?: string })?.code || (error as Error)?.name === "PostgresError") {
      console.error(describeDbError(error, dbWhere));
    } else console.error((error as Error)?.message ?? String(error));
    return EXIT_FAILED;
  } finally {
    await sql?.end({ timeout: 1 });
  }
}

async function sync(
  options: SyncOptions,
  target: FunctionTarget,
  where: string,
  sql: postgres.Sql | null,
  dbWhere: string,
  p: Palette,
): Promise<number> {
  const body: SyncBody = {};
  if (options.accountIds.length > 0) body.accountIds = options.accountIds;
  if (options.maxAccounts) body.maxAccounts = options.maxAccounts;
  if (options.failedSince) {
    const ids = await pickFailedAccounts(sql!, options.failedSince, options.workspaceId, p);
    if (ids.length === 0) return EXIT_OK;
    body.accountIds = ids;
  } else if (options.workspaceId) {
    body.workspaceId = options.workspaceId;
  }

  const live = new LiveLine();
  if (options.dryRun) {
    body.dryRun = true;
    const reply = await withSpinner(
      live,
      `Dry run of ${describeScope(body)} on ${where}: fetching and computing…`,
      invokeSync(target, body),
    );
    console.log(renderDryRun(reply.body, p));
    return EXIT_OK;
  }
  if (!sql) return await syncWaiting(target, body, where, live, p);
  return await syncFollowing(target, body, where, sql, dbWhere, live, p);
}

/** --failed-since: the accounts to re-run (listed on screen), or none (said so). */
async function pickFailedAccounts(
  sql: postgres.Sql,
  since: Date,
  workspaceId: string | null,
  p: Palette,
): Promise<string[]> {
  const failed = await findFailedAccounts(sql, since, workspaceId);
  if (failed.length === 0) {
    console.log(`No account's last sync failed since ${since.toISOString()}: nothing to re-run.`);
    return [];
  }
  // The function takes at most 1000 ids; the most recent failures go first.
  const picked = failed.slice(0, 1000);
  console.log(
    `Re-running ${picked.length} account(s) whose last sync failed since ${since.toISOString()}:`,
  );
  const now = new Date();
  for (const a of picked.slice(0, 20)) {
    const code = a.errorCode ? ` (${a.errorCode})` : "";
    console.log(`  @${a.username}  ${a.status}${code}, ${formatAge(a.finishedAt, now)}`);
  }
  if (picked.length > 20) console.log(`  … and ${picked.length - 20} more`);
  if (failed.length > picked.length) {
    console.log(p.yellow(`  ${failed.length - picked.length} more failed: run again for them`));
  }
  return picked.map((a) => a.accountId);
}

/** Without a database: the call waits for the run (`wait: true`) under a spinner. */
async function syncWaiting(
  target: FunctionTarget,
  body: SyncBody,
  where: string,
  live: LiveLine,
  p: Palette,
): Promise<number> {
  const reply = await withSpinner(
    live,
    `Syncing ${describeScope(body)} on ${where} (waiting for the run)…`,
    invokeSync(target, { ...body, wait: true }),
  );
  if (reply.body?.skipped) {
    console.error(
      `Cannot start a sync of every account as a scheduled run already holds the lock` +
        `${reply.body.runningRunId ? ` (run ${reply.body.runningRunId})` : ""}: it is ` +
        "syncing them now. Pass --db-url to follow it, or try again when it ends.",
    );
    return EXIT_FAILED;
  }
  if (reply.status === 202 || reply.body?.status === "running") {
    console.log(
      `Run ${reply.body.runId} is still going: it handed off to a fresh invocation. ` +
        "Pass --db-url to follow it, or see sync_run_overview.",
    );
    return EXIT_FAILED;
  }
  console.log(renderReplySummary(reply.body, p));
  return reply.body?.status === "completed" ? EXIT_OK : EXIT_FAILED;
}

/** With a database: 202 at once, then the run followed in the database to its end. */
async function syncFollowing(
  target: FunctionTarget,
  body: SyncBody,
  where: string,
  sql: postgres.Sql,
  dbWhere: string,
  live: LiveLine,
  p: Palette,
): Promise<number> {
  console.log(`Syncing ${describeScope(body)} on ${where}`);
  const reply = await invokeSync(target, body);
  let runId: string;
  if (reply.body?.skipped) {
    if (!reply.body.runningRunId) {
      console.error(`Cannot start the sync: ${reply.body.reason ?? "the run was skipped"}.`);
      return EXIT_FAILED;
    }
    runId = reply.body.runningRunId;
    console.log(p.yellow(
      `A scheduled run already holds the lock and is syncing every account: following ` +
        `run ${runId} instead of starting another (recorded as skipped run ${reply.body.runId}).`,
    ));
  } else {
    runId = reply.body.runId;
    const how = reply.body.how === "resumed" ? "resumed (its worker had stopped)" : "started";
    console.log(`Run ${runId} ${how}`);
  }

  // Ctrl-C stops following; the run itself goes on.
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  let outcome;
  try {
    outcome = await followRun(sql, runId, {
      live,
      palette: p,
      signal: stop.signal,
      where: dbWhere,
    });
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  if (outcome.kind === "detached") {
    console.log(
      `Stopped following. Run ${runId} goes on in the background; \`npm run status\` shows it.`,
    );
    return EXIT_DETACHED;
  }
  if (outcome.kind === "stalled") {
    console.error(
      `Run ${runId} has had no heartbeat since ${outcome.heartbeatAt.toISOString()}: its worker ` +
        "is gone. The next scheduled trigger resumes it; `npm run status` shows it.",
    );
    return EXIT_FAILED;
  }
  console.log(await renderRunSummary(sql, runId, p));
  return outcome.status === "completed" ? EXIT_OK : EXIT_FAILED;
}

export const syncCommand: Command<SyncOptions> = {
  name: "sync",
  usage: SYNC_USAGE,
  parse: parseSyncArgs,
  run,
};

if (import.meta.main) await exitWith(syncCommand);
