-- Tokens bound to their account (format v2).
--
-- A v1 ciphertext (`v1.<iv>.<ciphertext>`) decrypts wherever it is stored: copied into another
-- account's token row, it would silently act as that account. The functions now write
-- `v2.<account id>.<iv>.<ciphertext>`, with the account id as AES-GCM's additional
-- authenticated data, so a copy fails to decrypt (sync_logs error code token_mismatch). v1 rows
-- stay readable and are rewritten as v2 when token-refresh renews them.
--
--   workspace_threads_tokens_encrypted_shape  accepts v1 and v2
--   connect_account                           takes the account id the caller encrypted the
--                                             token for (p_account_id), since the id is part of
--                                             the ciphertext before the account row exists

-- The shape check, v1 or v2. The account id in v2 is checked for shape only, not against the
-- row's account: it is the decrypting side (GCM) that refuses a copy, and the sync records it.
-- NOT VALID then VALIDATE: the check is added without holding the table's strongest lock while
-- every row is read.
alter table public.workspace_threads_tokens
  drop constraint workspace_threads_tokens_encrypted_shape,
  add constraint workspace_threads_tokens_encrypted_shape check (
    (access_token_encrypted ~ '^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}$'
      -- a base64url text of length 4k+1 cannot encode whole bytes
      and length(split_part(access_token_encrypted, '.', 3)) % 4 <> 1)
    or (access_token_encrypted
        ~ '^v2\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22,}$'
      and length(split_part(access_token_encrypted, '.', 4)) % 4 <> 1)
  ) not valid;
alter table public.workspace_threads_tokens validate constraint workspace_threads_tokens_encrypted_shape;

comment on table public.workspace_threads_tokens is
  'Encrypted access tokens (v2.<account id>.<iv>.<ciphertext>, bound to the account; v1.<iv>.<ciphertext> from earlier releases until refreshed). At most one primary, unrevoked token per account; to replace it, revoke the old one first in the same transaction.';

drop function public.connect_account(uuid, text, text, text, timestamptz, timestamptz, timestamptz);

/**
 * connect_account(p_workspace_id, p_threads_user_id, p_username, p_access_token_encrypted,
 *                 p_expires_at, p_issued_at, p_now, p_account_id)
 *   -> table (account_id uuid, created boolean, reactivated boolean, token_id uuid,
 *             replaced_token_id uuid)
 *
 * The caller has checked the token against the API (the profile it answered gives
 * p_threads_user_id and p_username) and encrypted it for account p_account_id: the id of the
 * workspace's account of that Threads user if there is one, else a new id (the account is
 * then created with it). In one transaction:
 *   - the account (p_workspace_id, p_threads_user_id) is created, or its username updated
 *     (Threads usernames can change) and, if it was deactivated, reactivated;
 *   - the token is stored as the primary one, revoking the previous primary
 *     (store_account_token with no p_replaces_token_id).
 * p_account_id NULL (an operator storing a v1 token by hand) creates a new account with a
 * generated id and checks nothing.
 *
 * Returns one row: the account id; created (a new account); reactivated (it was deactivated);
 * the new token's id; the revoked previous primary token's id (NULL if there was none).
 * Raises:
 *   TS301  the workspace does not exist
 *   TS302, TS303  from store_account_token (e.g. the token has expired)
 *   TS305  the account exists under another id than p_account_id (a concurrent connect of
 *          the same user created it meanwhile): encrypt for the existing id and call again
 *   23514  the username or user id does not have the accepted shape
 * Who: the connect-account function (postgres) and operators. Security invoker.
 */
create function public.connect_account(
  p_workspace_id uuid,
  p_threads_user_id text,
  p_username text,
  p_access_token_encrypted text,
  p_expires_at timestamptz,
  p_issued_at timestamptz default null,
  p_now timestamptz default now(),
  p_account_id uuid default null
) returns table (account_id uuid, created boolean, reactivated boolean, token_id uuid,
  replaced_token_id uuid)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_variable
declare
  was_active boolean;
  the_account uuid;
  is_new boolean;
  previous_token uuid;
  new_token uuid;
begin
  perform from public.workspaces w where w.id = p_workspace_id for share;
  if not found then
    raise exception using errcode = 'TS301',
      message = format('Cannot connect an account as workspace %s does not exist', p_workspace_id);
  end if;

  -- The row lock makes a concurrent connect of the same account wait, so `reactivated` and
  -- `replaced_token_id` describe exactly what this call changed.
  select a.is_active into was_active
  from public.workspace_threads_accounts a
  where a.workspace_id = p_workspace_id and a.threads_user_id = p_threads_user_id
  for update;

  insert into public.workspace_threads_accounts as a (id, workspace_id, threads_user_id, username)
  values (coalesce(p_account_id, gen_random_uuid()), p_workspace_id, p_threads_user_id, p_username)
  on conflict on constraint workspace_threads_accounts_workspace_user_key do update
    set username = excluded.username,
        is_active = true,
        deactivated_at = null
  -- xmax = 0 only on a row this statement inserted.
  returning a.id, (a.xmax = 0) into the_account, is_new;

  -- The token was encrypted for p_account_id: stored under any other account it would not
  -- decrypt. Raising undoes the username update above.
  if p_account_id is not null and the_account <> p_account_id then
    raise exception using errcode = 'TS305',
      message = format('Cannot connect Threads user %s as its account in workspace %s is %s, not %s: encrypt the token for %s and try again',
        p_threads_user_id, p_workspace_id, the_account, p_account_id, the_account);
  end if;

  select t.id into previous_token
  from public.workspace_threads_tokens t
  where t.workspace_threads_account_id = the_account and t.is_primary and t.revoked_at is null;

  new_token := public.store_account_token(the_account, p_access_token_encrypted, p_expires_at,
    p_issued_at, null, p_now);

  return query select the_account, is_new, coalesce(not was_active, false), new_token, previous_token;
end;
$$;

comment on function public.connect_account(uuid, text, text, text, timestamptz, timestamptz, timestamptz, uuid) is
  'Creates or updates (and reactivates) the account of a workspace by Threads user id and stores its encrypted token (encrypted for p_account_id) as the primary, revoking the previous one; one transaction. Raises TS301 for an unknown workspace, TS305 when the account has another id.';

-- The functions connect as postgres: no API role needs it (least privilege, see
-- 20261130002100_revoke_run_control_from_api_roles.sql).
revoke all on function public.connect_account(uuid, text, text, text, timestamptz, timestamptz, timestamptz, uuid)
  from public, anon, authenticated, service_role;
