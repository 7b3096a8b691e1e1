/**
 * The command line of `npm run sync`: its usage text and its flags, checked and turned into
 * options (which accounts, which project), with every mistake a UsageError naming the flag.
 */
import { intFlag, parseCli, UsageError, uuidFlag } from "../lib/args.ts";
import { parseSince } from "../lib/time.ts";

export const SYNC_USAGE = `Usage: npm run sync -- [options]

Runs a sync now through the scheduled-sync function, shows its progress, and ends with a
summary per account. Without options: every active account (a scheduled run; when one is
already running, it is followed instead of starting another).

Which accounts:
  --account UUID         this account (repeat for several)
  --workspace UUID       the accounts of this workspace
  --failed-since TIME    the accounts whose last sync failed or partly failed since TIME:
                         an age (30m, 2h, 1d) or an ISO time (2026-11-23T10:00:00Z);
                         with --workspace, only that workspace's
  --max-accounts N       at most N accounts, least recently synced first
  --dry-run              fetch and compute, write no synced data; print what would change

Where (default: the local stack, STACK_NAME=dev):
  --url URL              a hosted project, https://<ref>.supabase.co
  --secret SECRET        its CRON_SECRET (default: $CRON_SECRET with --url, else the stack's)
  --anon-key KEY         its anon key (default: $SUPABASE_ANON_KEY; optional)
  --db-url URL           its database, to follow progress and for --failed-since (default:
                         $DATABASE_URL with --url, else the stack's); without one the call
                         waits for the run and shows a spinner
  -h, --help             show this help

Exit status: 0 the run completed (or a dry run, or nothing to re-run), 1 the run failed or
partly failed or could not run, 2 usage error, 130 stopped following with Ctrl-C (the run
goes on).`;

export interface SyncOptions {
  accountIds: string[];
  workspaceId: string | null;
  maxAccounts: number | null;
  dryRun: boolean;
  failedSince: Date | null;
  url: string | null;
  secret: string | null;
  anonKey: string | null;
  dbUrl: string | null;
  help: boolean;
}

export function parseSyncArgs(
  args: string[],
  env: Record<string, string | undefined>,
  now = new Date(),
): SyncOptions {
  const v = parseCli(args, {
    account: { type: "string", multiple: true },
    workspace: { type: "string" },
    "max-accounts": { type: "string" },
    "dry-run": { type: "boolean" },
    "failed-since": { type: "string" },
    url: { type: "string" },
    secret: { type: "string" },
    "anon-key": { type: "string" },
    "db-url": { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  const str = (key: keyof typeof v) => v[key] as string | undefined;
  const options: SyncOptions = {
    accountIds: [...new Set(((v.account ?? []) as string[]).map((a) => uuidFlag("--account", a)))],
    workspaceId: str("workspace") === undefined ? null : uuidFlag("--workspace", str("workspace")!),
    maxAccounts: str("max-accounts") === undefined
      ? null
      : intFlag("--max-accounts", str("max-accounts")!),
    dryRun: Boolean(v["dry-run"]),
    failedSince: str("failed-since") === undefined ? null : parseSince(str("failed-since")!, now),
    url: null,
    secret: str("secret") ?? null,
    anonKey: str("anon-key") ?? null,
    dbUrl: str("db-url") ?? null,
    help: Boolean(v.help),
  };
  if (options.help) return options;
  if (options.accountIds.length > 0 && options.workspaceId) {
    throw new UsageError("--account and --workspace cannot be combined: pick one");
  }
  if (options.accountIds.length > 0 && options.failedSince) {
    throw new UsageError(
      "--account and --failed-since cannot be combined: --failed-since picks the accounts",
    );
  }
  if (options.accountIds.length > 1000) {
    throw new UsageError(
      `--account must be given at most 1000 times: current count is ${options.accountIds.length}`,
    );
  }
  const url = str("url");
  if (url !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(
        `--url must be a project URL like https://<ref>.supabase.co: current value is "${url}"`,
      );
    }
    if (!/^https?:$/.test(parsed.protocol)) {
      throw new UsageError(`--url must be an http(s) URL: current value is "${url}"`);
    }
    // Tolerate the functions URL being given instead of the project URL.
    options.url = parsed.toString().replace(/\/+$/, "").replace(/\/functions\/v1$/, "");
    options.secret ??= env.CRON_SECRET || null;
    options.anonKey ??= env.SUPABASE_ANON_KEY || null;
    options.dbUrl ??= env.DATABASE_URL || null;
    if (!options.secret) {
      throw new UsageError(
        "--url needs the project's cron secret: pass --secret or set CRON_SECRET",
      );
    }
    if (options.failedSince && !options.dbUrl) {
      throw new UsageError(
        "--failed-since reads the project's database: pass --db-url or set DATABASE_URL",
      );
    }
  }
  if (options.secret === "") throw new UsageError("--secret must not be empty");
  return options;
}
