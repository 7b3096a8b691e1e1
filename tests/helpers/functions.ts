/**
 * Calling the Edge Functions as their callers do (pg_cron and people with the cron secret,
 * operators with the connect-account secret), and functions hosts of a test file's own that
 * keep every log line and every answer, for tests that read the logs or look for leaks.
 */
import { startOwnHost, testStack } from "./stack.ts";
import type { HostHandle } from "../../local-stack/functions-host/host.ts";

export interface FunctionReply {
  status: number;
  /** The answer parsed as JSON, or its text when it is not JSON. */
  // deno-lint-ignore no-explicit-any
  body: any;
  text: string;
}

export interface CallOptions {
  /** The bearer secret; default the one the function takes, null for none. */
  secret?: string | null;
  method?: string;
  /** Sent as it is instead of `body` as JSON. */
  rawBody?: string;
}

/** The secret a function's callers hold: connect-account has its own, the jobs the cron one. */
export async function callerSecret(name: string): Promise<string> {
  const stack = await testStack();
  return name === "connect-account" ? stack.connectAccountSecret : stack.cronSecret;
}

/** Sends `body` to function `name` on the functions host at `baseUrl`. */
export async function callFunction(
  baseUrl: string,
  name: string,
  body: unknown,
  options: CallOptions = {},
): Promise<FunctionReply> {
  const headers: Record<string, string> = { "Content-Type": "application/json" };
  const secret = options.secret === undefined ? await callerSecret(name) : options.secret;
  if (secret !== null) headers.Authorization = `Bearer ${secret}`;
  const method = options.method ?? "POST";
  const response = await fetch(`${baseUrl}/${name}`, {
    method,
    headers,
    body: method === "GET" ? undefined : options.rawBody ?? JSON.stringify(body),
  });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* not JSON: keep the text */ }
  return { status: response.status, body: parsed, text };
}

export interface CapturingHosts {
  /** Every line any of the hosts printed. */
  logs: string[];
  /** Every answer the functions gave (tests may add other output, such as a CLI's). */
  answers: string[];
  /** The URL of the host with the stack's settings plus `env`, started on first use. */
  url(env?: Record<string, string>): Promise<string>;
  /** callFunction on the host for `env`, the answer kept. */
  post(
    name: string,
    body: unknown,
    options?: CallOptions & { env?: Record<string, string> },
  ): Promise<FunctionReply>;
  close(): Promise<void>;
}

/** Functions hosts of the caller's own, one per distinct env, sharing one log and answer list. */
export function capturingHosts(): CapturingHosts {
  const logs: string[] = [];
  const answers: string[] = [];
  const hosts = new Map<string, Promise<HostHandle>>();
  const url = async (env: Record<string, string> = {}) => {
    const key = JSON.stringify(env);
    if (!hosts.has(key)) hosts.set(key, startOwnHost({ env, log: (line) => logs.push(line) }));
    return (await hosts.get(key)!).url;
  };
  return {
    logs,
    answers,
    url,
    post: async (name, body, options = {}) => {
      const reply = await callFunction(await url(options.env), name, body, options);
      answers.push(reply.text);
      return reply;
    },
    close: async () => {
      for (const host of hosts.values()) await (await host).close();
      hosts.clear();
    },
  };
}
