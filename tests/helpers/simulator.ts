/**
 * The Threads API simulator behind the test stack, driven through its `/_simulator` control
 * routes: fresh accounts, fault rules, call counts.
 */
import { testStack } from "./stack.ts";
import type { SimulatedAccount } from "../../local-stack/stack/demo-accounts.ts";
import type { SimulatorStats } from "../../local-stack/simulator/request-stats.ts";

export type { SimulatedAccount, SimulatorStats };

/** Calls a control route; GET without a body, POST with one, unless `method` says. */
export async function simulator<T = unknown>(
  path: string,
  init: { method?: string; body?: unknown } = {},
): Promise<T> {
  const stack = await testStack();
  const origin = new URL(stack.threadsApiBaseUrl).origin;
  const response = await fetch(`${origin}/_simulator${path}`, {
    method: init.method ?? (init.body === undefined ? "GET" : "POST"),
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`simulator ${path} answered ${response.status}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** `count` new simulated users with `posts` posts each (not connected to any workspace). */
export async function simulatedAccounts(count: number, posts: number): Promise<SimulatedAccount[]> {
  const { accounts } = await simulator<{ accounts: SimulatedAccount[] }>("/accounts", {
    body: { count, posts },
  });
  return accounts;
}

/** The simulator's current token for a simulated user (a refresh changes it). */
export async function currentToken(userId: string): Promise<string> {
  const accounts = await simulator<SimulatedAccount[]>("/accounts");
  return accounts.find((a) => a.id === userId)!.token;
}

export interface FaultRule {
  id: string;
}

/** Adds a fault rule (see local-stack/simulator for the kinds); remove it with removeFaults. */
export function addFault(rule: Record<string, unknown>): Promise<FaultRule> {
  return simulator<FaultRule>("/faults", { body: rule });
}

/** Every call of each of these simulated users takes `ms` longer. */
export function slowDown(accounts: { id: string }[], ms: number): Promise<FaultRule[]> {
  return Promise.all(accounts.map((a) => addFault({ kind: "latency", ms, userId: a.id })));
}

/** Removes fault rules, one after the other. */
export async function removeFaults(...rules: FaultRule[]): Promise<void> {
  for (const rule of rules) await simulator(`/faults/${rule.id}`, { method: "DELETE" });
}

/** The simulator's counts since it started (or since `/stats/reset`). */
export function simulatorStats(): Promise<SimulatorStats> {
  return simulator<SimulatorStats>("/stats");
}

/**
 * A new token for `token`'s account from the simulator's refresh endpoint, as if refreshed
 * outside the project; the simulator's account holds the new token from then on.
 */
export async function refreshedOutside(
  token: string,
): Promise<{ token: string; expiresIn: number }> {
  const stack = await testStack();
  const url = new URL(`${new URL(stack.threadsApiBaseUrl).origin}/refresh_access_token`);
  url.searchParams.set("grant_type", "th_refresh_token");
  url.searchParams.set("access_token", token);
  const response = await fetch(url);
  const body = await response.json();
  if (response.status !== 200) {
    throw new Error(`the refresh answered ${response.status}: ${JSON.stringify(body)}`);
  }
  return { token: body.access_token, expiresIn: body.expires_in };
}
