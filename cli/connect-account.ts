/**
 * npm run connect-account -- <options>: the operator's command for connecting Threads accounts.
 * It calls the connect-account Edge Function with its own secret (CONNECT_ACCOUNT_SECRET, not
 * the cron secret), so the token is checked against the Threads API and stored encrypted
 * exactly as the function does it, locally or on a hosted project.
 *
 *   --workspace <uuid> --token <token>    connect (or reconnect) the token's account
 *   --token-stdin                         read the token from stdin instead (keeps it out of
 *                                         the shell history and the process list); the
 *                                         THREADS_ACCESS_TOKEN variable works too
 *   --expires-at <ISO date-time>          when the token expires, or
 *   --expires-in <seconds>                the `expires_in` of the token exchange; without
 *                                         either, a fresh 60-day long-lived token is assumed
 *   --deactivate <account uuid>           disconnect an account (history is kept)
 *   --url <url>                           https://<ref>.supabase.co (or .../functions/v1);
 *                                         default: the local stack (STACK_* variables)
 *   --secret <secret>                     connect-account's secret; default:
 *                                         CONNECT_ACCOUNT_SECRET, else the local stack's
 *   --json                                print the function's JSON answer
 *
 * Exit status: 0 connected/deactivated, 1 refused or not reachable (the reason is printed),
 * 2 bad usage.
 * The token is never printed.
 */
import {
  type Command,
  EXIT_FAILED,
  EXIT_OK,
  exitWith,
  intFlag,
  parseCli,
  UsageError,
  uuidFlag,
} from "./lib/args.ts";
import { colorEnabled, type Palette, palette } from "./lib/colors.ts";
import { localStack } from "./lib/target.ts";

export const CONNECT_ACCOUNT_USAGE = `Usage:
  npm run connect-account -- --workspace <uuid> (--token <token> | --token-stdin)
                             [--expires-at <ISO date-time> | --expires-in <seconds>]
                             [--url <project url>] [--secret <connect-account secret>] [--json]
  npm run connect-account -- --deactivate <account uuid> [--url ...] [--secret ...] [--json]

Connects (or reconnects) the token's Threads account to the workspace, or deactivates an
account, through the connect-account function. Without --url: the local stack (STACK_NAME).
The token can also come from THREADS_ACCESS_TOKEN; the secret from CONNECT_ACCOUNT_SECRET.
Exit status: 0 done, 1 refused or not reachable, 2 usage error.`;

interface ConnectAccountOptions {
  workspaceId: string | null;
  token: string | null;
  tokenStdin: boolean;
  expiresAt: string | null;
  expiresInSeconds: number | null;
  deactivate: string | null;
  url: string | null;
  secret: string | null;
  json: boolean;
  help: boolean;
}

/** The flags, checked; the token from stdin is read later (by `run`). */
export function parseConnectAccountArgs(
  args: string[],
  env: Record<string, string | undefined>,
): ConnectAccountOptions {
  const v = parseCli(args, {
    workspace: { type: "string" },
    token: { type: "string" },
    "token-stdin": { type: "boolean" },
    "expires-at": { type: "string" },
    "expires-in": { type: "string" },
    deactivate: { type: "string" },
    url: { type: "string" },
    secret: { type: "string" },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
  });
  if (v.deactivate !== undefined) {
    for (const key of ["workspace", "token", "token-stdin", "expires-at", "expires-in"] as const) {
      if (v[key] !== undefined) throw new UsageError(`--${key} cannot go with --deactivate`);
    }
  }
  if (v["expires-at"] !== undefined && v["expires-in"] !== undefined) {
    throw new UsageError("--expires-at and --expires-in cannot go together");
  }
  const secret = (v.secret as string | undefined) ?? env.CONNECT_ACCOUNT_SECRET ?? null;
  if (v.url !== undefined && !secret && !v.help) {
    throw new UsageError("--secret (or CONNECT_ACCOUNT_SECRET) is required with --url");
  }
  const optional = <T>(value: unknown, check: (value: string) => T) =>
    value === undefined ? null : check(value as string);
  return {
    workspaceId: optional(v.workspace, (w) => uuidFlag("--workspace", w)),
    token: (v.token as string | undefined) ?? env.THREADS_ACCESS_TOKEN ?? null,
    tokenStdin: Boolean(v["token-stdin"]),
    expiresAt: (v["expires-at"] as string | undefined) ?? null,
    expiresInSeconds: optional(v["expires-in"], (s) => intFlag("--expires-in", s)),
    deactivate: optional(v.deactivate, (id) => uuidFlag("--deactivate", id)),
    url: optional(v.url, functionsBaseUrl),
    secret,
    json: Boolean(v.json),
    help: Boolean(v.help),
  };
}

/** The functions base URL: a project URL gets /functions/v1 appended. */
export function functionsBaseUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return /\/functions\/v1$/.test(trimmed) ? trimmed : `${trimmed}/functions/v1`;
}

async function readStdin(): Promise<string> {
  return (await new Response(Deno.stdin.readable).text()).trim();
}

/** The function's request body. */
async function buildBody(options: ConnectAccountOptions): Promise<Record<string, unknown>> {
  if (options.deactivate) return { accountId: options.deactivate, deactivate: true };
  if (!options.workspaceId) throw new UsageError("--workspace is required");
  const token = options.tokenStdin ? await readStdin() : options.token;
  if (!token) {
    throw new UsageError("a token is required: --token, --token-stdin or THREADS_ACCESS_TOKEN");
  }
  const body: Record<string, unknown> = { workspaceId: options.workspaceId, accessToken: token };
  if (options.expiresAt) body.expiresAt = options.expiresAt;
  if (options.expiresInSeconds) body.expiresInSeconds = options.expiresInSeconds;
  return body;
}

/** The function to call: --url, else the local stack's (and its secret, unless given). */
async function target(options: ConnectAccountOptions) {
  if (options.url) return { url: options.url, secret: options.secret! };
  const stack = await localStack(["functions"], "pass --url <project url> and --secret");
  return { url: stack.functionsUrl, secret: options.secret ?? stack.connectAccountSecret };
}

// deno-lint-ignore no-explicit-any
function describe(status: number, answer: any, p: Palette): string {
  if (status >= 400) {
    return `${p.red(`Refused (HTTP ${status}, ${answer?.error ?? "error"})`)}: ${
      answer?.detail ?? answer?.message ?? JSON.stringify(answer)
    }`;
  }
  const a = answer.account;
  if (answer.deactivated !== undefined) {
    return answer.deactivated
      ? `${
        p.green("Deactivated")
      } @${a.username} (account ${a.id}); its history is kept. Connect it again to resume.`
      : `@${a.username} (account ${a.id}) was already deactivated; nothing changed.`;
  }
  const how = answer.created ? "Connected" : answer.reactivated ? "Reactivated" : "Reconnected";
  const expiry = `token expires ${answer.token.expiresAt}${
    answer.token.expiresAtAssumed ? " (assumed: a fresh 60-day token; pass --expires-in)" : ""
  }`;
  const replaced = answer.token.replacedTokenId ? ", the previous token revoked" : "";
  const warnings = (answer.warnings ?? []).map((w: string) => `\n${p.yellow("Warning")}: ${w}`)
    .join("");
  return `${
    p.green(how)
  } @${a.username} (Threads user ${a.threadsUserId}) as account ${a.id} in workspace ${a.workspaceId}; ${expiry}${replaced}.${warnings}`;
}

async function run(options: ConnectAccountOptions): Promise<number> {
  const body = await buildBody(options);
  const { url, secret } = await target(options);
  const response = await fetch(`${url}/connect-account`, {
    method: "POST",
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${secret}` },
    body: JSON.stringify(body),
  });
  const text = await response.text();
  let answer: unknown = text;
  try {
    answer = JSON.parse(text);
  } catch { /* not JSON (a proxy page): printed as text */ }
  const p = palette(!options.json && colorEnabled());
  console.log(
    options.json ? JSON.stringify(answer, null, 2) : describe(response.status, answer, p),
  );
  return response.ok ? EXIT_OK : EXIT_FAILED;
}

export const connectAccountCommand: Command<ConnectAccountOptions> = {
  name: "connect-account",
  usage: CONNECT_ACCOUNT_USAGE,
  parse: parseConnectAccountArgs,
  run,
};

if (import.meta.main) await exitWith(connectAccountCommand);
