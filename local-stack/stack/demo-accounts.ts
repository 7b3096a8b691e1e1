/**
 * Connects the simulator's accounts to the local database, as an operator connects real
 * accounts: a workspace, an account per simulated user, and its token encrypted at rest with
 * the stack's TOKEN_ENCRYPTION_KEY. Idempotent: accounts already connected keep their token.
 * Local tooling only (npm start, tests, benchmarks).
 */
import postgres from "postgres";
import { encrypt } from "../../supabase/functions/_shared/crypto.ts";

export interface SimulatedAccount {
  index: number;
  id: string;
  username: string;
  token: string;
  tokenExpiresAt: string;
}

/** The simulator's accounts (base URL like http://127.0.0.1:54329/v1.0). */
export async function simulatorAccounts(threadsApiBaseUrl: string): Promise<SimulatedAccount[]> {
  const origin = new URL(threadsApiBaseUrl).origin;
  const response = await fetch(`${origin}/_simulator/accounts`);
  if (!response.ok) {
    throw new Error(`Cannot list the simulator's accounts as it answered ${response.status}`);
  }
  return await response.json();
}

/**
 * Connects `accounts` to workspace `workspaceName` (created when missing). Returns the
 * workspace id and the account ids by simulated user id.
 */
export async function connectAccounts(
  dbUrl: string,
  tokenEncryptionKey: string,
  accounts: SimulatedAccount[],
  workspaceName = "Demo workspace",
): Promise<{ workspaceId: string; accountIds: Map<string, string> }> {
  const sql = postgres(dbUrl, { max: 1, onnotice: () => {} });
  try {
    return await sql.begin(async (tx) => {
      const [existing] = await tx`select id from public.workspaces where name = ${workspaceName}`;
      const workspaceId: string = existing?.id ??
        (await tx`insert into public.workspaces (name) values (${workspaceName}) returning id`)[0]
          .id;
      const accountIds = new Map<string, string>();
      for (const account of accounts) {
        const [row] = await tx`
          insert into public.workspace_threads_accounts (workspace_id, threads_user_id, username)
          values (${workspaceId}, ${account.id}, ${account.username})
          on conflict (workspace_id, threads_user_id) do update set username = excluded.username
          returning id`;
        accountIds.set(account.id, row.id);
        const [token] = await tx`select 1 from public.workspace_threads_tokens
          where workspace_threads_account_id = ${row.id} and is_primary and revoked_at is null`;
        if (!token) {
          await tx`insert into public.workspace_threads_tokens
            (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
            values (${row.id}, ${await encrypt(account.token, tokenEncryptionKey, row.id)},
              ${account.tokenExpiresAt}, true)`;
        }
      }
      return { workspaceId, accountIds };
    });
  } finally {
    await sql.end();
  }
}
