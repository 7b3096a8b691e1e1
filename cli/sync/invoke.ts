/**
 * Calling the scheduled-sync function the way a Supabase user would, with supabase-js
 * (`functions.invoke`), and turning every answer into either the function's JSON reply or an
 * error message an operator can act on.
 *
 * supabase-js resolves any 2xx (the function's 200 and 202 alike) to `{ data, response }`;
 * any other status comes back as a FunctionsHttpError whose `context` is the Response, a
 * network failure as a FunctionsFetchError, and a platform relay failure as a
 * FunctionsRelayError. The body of an error is the function's `{"error", "detail"}` or the
 * platform's `{"code", "message"}`.
 */
import {
  createClient,
  FunctionsFetchError,
  FunctionsHttpError,
  FunctionsRelayError,
} from "@supabase/supabase-js";

export interface FunctionTarget {
  /** The project URL: `https://<ref>.supabase.co`, or the local stack's API URL. */
  url: string;
  cronSecret: string;
  /** The project's anon (publishable) key; scheduled-sync does not verify JWTs, so optional. */
  anonKey?: string;
}

export interface SyncBody {
  accountIds?: string[];
  workspaceId?: string;
  maxAccounts?: number;
  dryRun?: boolean;
  wait?: boolean;
}

export interface InvokeReply {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

/** The function could not be called or refused the call; `message` says what to do. */
export class InvokeError extends Error {
  override name = "InvokeError";
  constructor(message: string, readonly status?: number) {
    super(message);
  }
}

/** createClient needs a key; without one this placeholder is sent, and stripped again below. */
const NO_KEY = "no-anon-key";

export async function invokeSync(target: FunctionTarget, body: SyncBody): Promise<InvokeReply> {
  const client = createClient(target.url, target.anonKey || NO_KEY, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    global: {
      // Without a real key, send no apikey header rather than a made-up one.
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        if (headers.get("apikey") === NO_KEY) headers.delete("apikey");
        return fetch(input, { ...init, headers });
      },
    },
  });
  const { data, error, response } = await client.functions.invoke("scheduled-sync", {
    body,
    headers: { Authorization: `Bearer ${target.cronSecret}` },
  });
  if (!error) return { status: response?.status ?? 200, body: data };
  throw await describeInvokeError(error, target.url);
}

async function describeInvokeError(error: unknown, url: string): Promise<InvokeError> {
  if (error instanceof FunctionsHttpError) {
    const response = error.context as Response;
    const text = await response.text().catch(() => "");
    let reply: Record<string, unknown> = {};
    try {
      reply = JSON.parse(text);
    } catch { /* not JSON */ }
    const code = String(reply.error ?? reply.code ?? "");
    const detail = String(reply.detail ?? reply.message ?? text).slice(0, 500);
    const status = response.status;
    if (status === 401) {
      return new InvokeError(
        "the function refused the cron secret (401): check CRON_SECRET (--secret, or the " +
          "local stack's `npm run stack -- status`)",
        status,
      );
    }
    if (status === 400) {
      return new InvokeError(`the function refused the request (400 ${code}): ${detail}`, status);
    }
    if (status === 404) {
      return new InvokeError(
        `scheduled-sync was not found at ${url}/functions/v1 (404): deploy it ` +
          "(supabase functions deploy scheduled-sync) or check --url",
        status,
      );
    }
    return new InvokeError(
      `scheduled-sync failed (${status}${code ? ` ${code}` : ""})${
        detail ? `: ${detail}` : ""
      }; see the function's log`,
      status,
    );
  }
  if (error instanceof FunctionsRelayError) {
    return new InvokeError(
      `the platform could not relay the call to scheduled-sync (${
        (error.context as Response)?.status ?? "relay error"
      }); try again, or see the project's status`,
    );
  }
  if (error instanceof FunctionsFetchError) {
    // Deno's fetch says "fetch failed"; the reason (refused, DNS, TLS) is in its cause.
    const context = error.context as Error & { cause?: Error };
    const cause = (context?.cause?.message ?? context?.message ?? String(context))
      .replace(/^error sending request for url \([^)]*\): /, "");
    return new InvokeError(
      `cannot reach ${url}/functions/v1/scheduled-sync (${cause}): is the stack up ` +
        "(`npm run stack -- up`), or is --url right?",
    );
  }
  return new InvokeError(`calling scheduled-sync failed: ${(error as Error)?.message ?? error}`);
}
