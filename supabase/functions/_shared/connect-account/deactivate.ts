/**
 * Disconnecting an account (deactivate_account): runs leave it alone, its token is revoked,
 * its history is kept; connecting it again reactivates it.
 */
import type { Sql } from "../platform/db.ts";
import type { Logger } from "../platform/log.ts";
import { sqlState } from "../platform/postgres-errors.ts";
import { type AccountView, loadAccountView } from "./account-view.ts";

export type DeactivateOutcome =
  | { kind: "unknown_account" }
  /** `changed` is false when the account was already deactivated. */
  | { kind: "deactivated"; account: AccountView; changed: boolean };

export async function deactivateAccount(
  sql: Sql,
  log: Logger,
  accountId: string,
): Promise<DeactivateOutcome> {
  let changed: boolean;
  try {
    [{ changed }] = await sql`select public.deactivate_account(${accountId}) as changed`;
  } catch (error) {
    if (sqlState(error) === "TS302") return { kind: "unknown_account" };
    throw error;
  }
  const account = (await loadAccountView(sql, accountId))!;
  log.info("account_deactivated", { account_id: accountId, changed });
  return { kind: "deactivated", account, changed };
}
