/**
 * Workspaces of a test's own: each test works with accounts of its own in the simulator and
 * the database, so tests do not see each other's data.
 */
import type postgres from "postgres";
import { testStack } from "./stack.ts";
import { type SimulatedAccount, simulatedAccounts } from "./simulator.ts";
import { connectAccounts } from "../../local-stack/stack/demo-accounts.ts";

export interface TestWorkspace {
  workspaceId: string;
  accounts: SimulatedAccount[];
  /** Database account id by simulated user id. */
  accountIds: Map<string, string>;
}

/** A workspace with `count` fresh simulated accounts of `posts` posts each, connected. */
export async function newWorkspace(count: number, posts = 12): Promise<TestWorkspace> {
  const stack = await testStack();
  const accounts = await simulatedAccounts(count, posts);
  const { workspaceId, accountIds } = await connectAccounts(
    stack.dbUrl,
    stack.tokenEncryptionKey,
    accounts,
    `test-${crypto.randomUUID()}`,
  );
  return { workspaceId, accounts, accountIds };
}

/** A new workspace with no account, named `<label>-<uuid>`; returns its id. */
export async function emptyWorkspace(sql: postgres.Sql, label: string): Promise<string> {
  const [{ id }] = await sql`insert into public.workspaces (name)
    values (${`${label}-${crypto.randomUUID()}`}) returning id`;
  return id;
}
