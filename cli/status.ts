/**
 * `npm run status`: freshness first, then the recent sync runs and the accounts that need
 * attention, read-only from the console views, against the local stack or any database
 * (`--db-url`, DATABASE_URL).
 * Run with --help for the options.
 */
import {
  type Command,
  EXIT_FAILED,
  EXIT_OK,
  exitWith,
  intFlag,
  parseCli,
  secondsFlag,
  uuidFlag,
  withOptionalValue,
} from "./lib/args.ts";
import { colorEnabled, palette } from "./lib/colors.ts";
import { readStatus } from "./status/report.ts";
import { renderStatus } from "./status/render.ts";
import { connectDb, describeDbError, localStack, redactUrl } from "./lib/target.ts";

export const STATUS_USAGE = `Usage: npm run status -- [options]

Freshness first (sync_freshness: the share of active accounts with a complete sync within the
target), then the recent sync runs and the accounts that need attention, read-only from the
console views: runs from sync_run_overview; each account's state (failing, paused, rate limited, never
synced, token rejected) from account_sync_state and its token (expiring soon, expired,
rejected, missing) from account_token_health; stale: not fresh (no complete sync within the
freshness target, 30 minutes unless monitoring_settings says otherwise).

Options:
  --limit N           runs to show (default 10)
  --json              print one JSON object {generatedAt, runs, attention, ...} for scripts
  --watch [SECONDS]   redraw every SECONDS (default 5) until Ctrl-C; with --json, one JSON
                      object per line and refresh
  --workspace UUID    only this workspace's accounts, and the runs that synced any of them
  --db-url URL        read this database (default: $DATABASE_URL, else the local stack)
  -h, --help          show this help

The local stack is STACK_NAME (dev) on STACK_DB_PORT (54322). Colour on a terminal unless
NO_COLOR is set. Exit status: 0 shown, 1 the database could not be read, 2 usage error.`;

const DEFAULT_WATCH_SECONDS = 5;

interface StatusOptions {
  limit: number;
  json: boolean;
  watchSeconds: number | null;
  workspaceId: string | null;
  dbUrl: string | null;
  help: boolean;
}

export function parseStatusArgs(
  args: string[],
  env: Record<string, string | undefined>,
): StatusOptions {
  const values = parseCli(withOptionalValue(args, "--watch", String(DEFAULT_WATCH_SECONDS)), {
    limit: { type: "string" },
    json: { type: "boolean" },
    watch: { type: "string" },
    workspace: { type: "string" },
    "db-url": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  return {
    limit: values.limit === undefined ? 10 : intFlag("--limit", values.limit as string),
    json: Boolean(values.json),
    watchSeconds: values.watch === undefined
      ? null
      : secondsFlag("--watch", values.watch as string),
    workspaceId: values.workspace === undefined
      ? null
      : uuidFlag("--workspace", values.workspace as string),
    dbUrl: (values["db-url"] as string | undefined) ?? (env.DATABASE_URL || null),
    help: Boolean(values.help),
  };
}

async function run(options: StatusOptions): Promise<number> {
  let dbUrl: string;
  let where: string;
  try {
    if (options.dbUrl) {
      dbUrl = options.dbUrl;
      where = redactUrl(dbUrl);
    } else {
      const stack = await localStack(["database"], "pass --db-url <postgres url>");
      dbUrl = stack.dbUrl;
      where = `local stack "${stack.name}" (${redactUrl(dbUrl)})`;
    }
  } catch (error) {
    console.error((error as Error).message);
    return EXIT_FAILED;
  }

  const sql = connectDb(dbUrl);
  const p = palette(!options.json && colorEnabled());
  const once = async (): Promise<string> => {
    const report = await readStatus(sql, {
      limit: options.limit,
      database: where,
      workspaceId: options.workspaceId,
    });
    if (!options.json) return renderStatus(report, p);
    return options.watchSeconds === null ? JSON.stringify(report, null, 2) : JSON.stringify(report);
  };

  try {
    if (options.watchSeconds === null) {
      try {
        console.log(await once());
        return EXIT_OK;
      } catch (error) {
        console.error(describeDbError(error, where));
        return EXIT_FAILED;
      }
    }
    return await watch(once, options.watchSeconds, options.json, p.dim);
  } finally {
    await sql.end({ timeout: 1 });
  }
}

/**
 * Redraws until Ctrl-C. On a terminal the screen is cleared and redrawn in one write; piped,
 * each refresh follows the last. A failed read is shown and retried on the next refresh (a
 * database restart does not end the watch).
 */
async function watch(
  once: () => Promise<string>,
  seconds: number,
  json: boolean,
  dim: (text: string) => string,
): Promise<number> {
  const interactive = !json && Deno.stdout.isTerminal();
  let stopped = false;
  let wake = () => {};
  const onSignal = () => {
    stopped = true;
    wake();
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    while (!stopped) {
      let text: string;
      try {
        text = await once();
      } catch (error) {
        text = describeDbError(error, "");
        if (json) text = JSON.stringify({ error: text, at: new Date().toISOString() });
      }
      if (stopped) break;
      if (interactive) {
        const footer = dim(`\nRefreshing every ${seconds} s · Ctrl-C to stop`);
        await writeAll(`\x1b[H\x1b[2J${text}\n${footer}\n`);
      } else {
        await writeAll(json ? `${text}\n` : `${text}\n\n`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, seconds * 1000);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
  }
  return EXIT_OK;
}

async function writeAll(text: string) {
  const bytes = new TextEncoder().encode(text);
  let written = 0;
  while (written < bytes.length) written += await Deno.stdout.write(bytes.subarray(written));
}

export const statusCommand: Command<StatusOptions> = {
  name: "status",
  usage: STATUS_USAGE,
  parse: parseStatusArgs,
  run,
};

if (import.meta.main) await exitWith(statusCommand);
