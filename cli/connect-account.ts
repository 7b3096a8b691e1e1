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
 * Exit status: 0 connected/deactivated, 1 refused (the reason is printed), 2 bad usage.
 * The token is never printed.
 */
import { parseArgs } from "node:util";
import { stackConfigFromEnv } from "../local-stack/stack/config.ts";
import { status } from "../local-stack/stack/stack.ts";

const USAGE = `usage:
  npm run connect-account -- --workspace <uuid> (--token <token> | --token-stdin)
                             [--expires-at <ISO date-time> | --expires-in <seconds>]
                             [--url <project url>] [--secret <connect-account secret>] [--json]
  npm run connect-account -- --deactivate <account uuid> [--url ...] [--secret ...] [--json]`;

class UsageError extends Error {}

async function readStdin(): Promise<string> {
  return (await new Response(Deno.stdin.readable).text()).trim();
}

/** The functions base URL: a project URL gets /functions/v1 appended. */
export function functionsBaseUrl(url: string): string {
  const trimmed = url.replace(/\/+$/, "");
  return /\/functions\/v1$/.test(trimmed) ? trimmed : `${trimmed}/functions/v1`;
}

async function target(values: { url?: string; secret?: string }) {
  const secret = values.secret ?? Deno.env.get("CONNECT_ACCOUNT_SECRET");
  if (values.url) {
    if (!secret) {
      throw new UsageError("--secret (or CONNECT_ACCOUNT_SECRET) is required with --url");
    }
    return { url: functionsBaseUrl(values.url), secret };
  }
  const stack = await status(stackConfigFromEnv());
  if (stack.services.functions !== "running") {
    throw new UsageError(
      `the local stack "${stack.name}" is not running: start it (npm run stack -- up) or pass --url`,
    );
  }
  return { url: stack.functionsUrl, secret: secret ?? stack.connectAccountSecret };
}

async function buildBody(values: Record<string, string | boolean | undefined>) {
  if (values.deactivate) {
    for (const key of ["workspace", "token", "token-stdin", "expires-at", "expires-in"]) {
      if (values[key] !== undefined) throw new UsageError(`--${key} cannot go with --deactivate`);
    }
    return { accountId: values.deactivate as string, deactivate: true };
  }
  if (!values.workspace) throw new UsageError("--workspace is required");
  const token = values["token-stdin"]
    ? await readStdin()
    : (values.token as string | undefined) ?? Deno.env.get("THREADS_ACCESS_TOKEN");
  if (!token) {
    throw new UsageError("a token is required: --token, --token-stdin or THREADS_ACCESS_TOKEN");
  }
  if (values["expires-at"] && values["expires-in"]) {
    throw new UsageError("--expires-at and --expires-in cannot go together");
  }
  const body: Record<string, unknown> = { workspaceId: values.workspace, accessToken: token };
  if (values["expires-at"]) body.expiresAt = values["expires-at"];
  if (values["expires-in"]) {
    const seconds = Number(values["expires-in"]);
    if (!Number.isInteger(seconds) || seconds <= 0) {
      throw new UsageError("--expires-in must be a positive whole number of seconds");
    }
    body.expiresInSeconds = seconds;
  }
  return body;
}

// deno-lint-ignore no-explicit-any
function describe(status: number, answer: any): string {
  if (status >= 400) {
    return `Refused (HTTP ${status}, ${answer?.error ?? "error"}): ${
      answer?.detail ?? answer?.message ?? JSON.stringify(answer)
    }`;
  }
  const a = answer.account;
  if (answer.deactivated !== undefined) {
    return answer.deactivated
      ? `Deactivated @${a.username} (account ${a.id}); its history is kept. Connect it again to resume.`
      : `@${a.username} (account ${a.id}) was already deactivated; nothing changed.`;
  }
  const how = answer.created ? "Connected" : answer.reactivated ? "Reactivated" : "Reconnected";
  const expiry = `token expires ${answer.token.expiresAt}${
    answer.token.expiresAtAssumed ? " (assumed: a fresh 60-day token; pass --expires-in)" : ""
  }`;
  const replaced = answer.token.replacedTokenId ? ", the previous token revoked" : "";
  const warnings = (answer.warnings ?? []).map((w: string) => `\nWarning: ${w}`).join("");
  return `${how} @${a.username} (Threads user ${a.threadsUserId}) as account ${a.id} in workspace ${a.workspaceId}; ${expiry}${replaced}.${warnings}`;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
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
    },
    strict: true,
    allowPositionals: false,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const body = await buildBody(values);
  const { url, secret } = await target(values);
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
  console.log(values.json ? JSON.stringify(answer, null, 2) : describe(response.status, answer));
  return response.ok ? 0 : 1;
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (error) {
    const usage = error instanceof UsageError || (error as { code?: string })?.code?.startsWith?.(
      "ERR_PARSE_ARGS",
    );
    console.error(`${(error as Error).message}${usage ? `\n${USAGE}` : ""}`);
    Deno.exit(usage ? 2 : 1);
  }
}
