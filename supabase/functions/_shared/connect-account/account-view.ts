/** An account as connect-account's answers show it (never its token). */
import type { Sql } from "../platform/db.ts";

export interface AccountView {
  id: string;
  workspaceId: string;
  threadsUserId: string;
  username: string;
  isActive: boolean;
  deactivatedAt: string | null;
}

/** The account as it is now, or undefined when there is none with that id. */
export async function loadAccountView(sql: Sql, id: string): Promise<AccountView | undefined> {
  const [a] = await sql<{
    id: string;
    workspace_id: string;
    threads_user_id: string;
    username: string;
    is_active: boolean;
    deactivated_at: Date | null;
  }[]>`
    select id, workspace_id, threads_user_id, username, is_active, deactivated_at
    from public.workspace_threads_accounts where id = ${id}`;
  if (!a) return undefined;
  return {
    id: a.id,
    workspaceId: a.workspace_id,
    threadsUserId: a.threads_user_id,
    username: a.username,
    isActive: a.is_active,
    deactivatedAt: a.deactivated_at?.toISOString() ?? null,
  };
}
