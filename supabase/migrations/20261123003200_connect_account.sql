-- Connecting and deactivating Threads accounts: what the connect-account function (and an
-- operator at the console) does to the accounts table, one transaction each.
--
--   connect_account      creates or updates the account (by workspace + Threads user id),
--                        reactivates it if it was deactivated, and stores its token as the
--                        primary one (store_account_token)
--   deactivate_account   stops the account's syncs and withdraws its token; its posts,
--                        snapshots and logs stay (accounts are never deleted)

/**
 * connect_account(p_workspace_id, p_threads_user_id, p_username, p_access_token_encrypted,
 *                 p_expires_at, p_issued_at, p_now)
 *   -> table (account_id uuid, created boolean, reactivated boolean, token_id uuid,
 *             replaced_token_id uuid)
 *
 * The caller has checked the token against the API (the profile it answered gives
 * p_threads_user_id and p_username) and encrypted it. In one transaction:
 *   - the account (p_workspace_id, p_threads_user_id) is created, or its username updated
 *     (Threads usernames can change) and, if it was deactivated, reactivated;
 *   - the token is stored as the primary one, revoking the previous primary
 *     (store_account_token with no p_replaces_token_id).
 *
 * Returns one row: the account id; created (a new account); reactivated (it was deactivated);
 * the new token's id; the revoked previous primary token's id (NULL if there was none).
 * Raises:
 *   TS301  the workspace does not exist
 *   TS302, TS303  from store_account_token (e.g. the token has expired)
 *   23514  the username or user id does not have the accepted shape
 * Who: the connect-account function (postgres, service_role) and operators. Security invoker.
 */
create function public.connect_account(
  p_workspace_id uuid,
  p_threads_user_id text,
  p_username text,
  p_access_token_encrypted text,
  p_expires_at timestamptz,
  p_issued_at timestamptz default null,
  p_now timestamptz default now()
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

  insert into public.workspace_threads_accounts as a (workspace_id, threads_user_id, username)
  values (p_workspace_id, p_threads_user_id, p_username)
  on conflict on constraint workspace_threads_accounts_workspace_user_key do update
    set username = excluded.username,
        is_active = true,
        deactivated_at = null
  -- xmax = 0 only on a row this statement inserted.
  returning a.id, (a.xmax = 0) into the_account, is_new;

  select t.id into previous_token
  from public.workspace_threads_tokens t
  where t.workspace_threads_account_id = the_account and t.is_primary and t.revoked_at is null;

  new_token := public.store_account_token(the_account, p_access_token_encrypted, p_expires_at,
    p_issued_at, null, p_now);

  return query select the_account, is_new, coalesce(not was_active, false), new_token, previous_token;
end;
$$;

comment on function public.connect_account(uuid, text, text, text, timestamptz, timestamptz, timestamptz) is
  'Creates or updates (and reactivates) the account of a workspace by Threads user id and stores its encrypted token as the primary, revoking the previous one; one transaction. Raises TS301 for an unknown workspace.';

/**
 * deactivate_account(p_account_id, p_now) -> boolean
 *
 * Disconnects an account: is_active = false (deactivated_at = p_now) and its primary token is
 * revoked, in one transaction. From then on no sync enqueues it and token-refresh leaves it
 * alone; its posts, snapshots, insights and logs are kept. To resume, connect it again
 * (connect-account with a fresh token reactivates the same account row, history included).
 *
 * Returns true when the account was active and is now deactivated; false when it already was
 * (nothing changes).
 * Raises: TS302 when the account does not exist.
 * Who: the connect-account function (postgres, service_role) and operators. Security invoker.
 */
create function public.deactivate_account(
  p_account_id uuid,
  p_now timestamptz default now()
) returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  was_active boolean;
begin
  select a.is_active into was_active
  from public.workspace_threads_accounts a where a.id = p_account_id for update;
  if not found then
    raise exception using errcode = 'TS302',
      message = format('Cannot deactivate account %s as it does not exist', p_account_id);
  end if;
  if not was_active then
    return false;
  end if;
  update public.workspace_threads_accounts a
  set is_active = false, deactivated_at = p_now
  where a.id = p_account_id;
  -- A disconnected account's credential is not used by anything: withdraw it.
  update public.workspace_threads_tokens t
  set revoked_at = p_now
  where t.workspace_threads_account_id = p_account_id and t.is_primary and t.revoked_at is null;
  return true;
end;
$$;

comment on function public.deactivate_account(uuid, timestamptz) is
  'Deactivates an account (no more syncs or token refreshes) and revokes its primary token; history is kept. Raises TS302 for an unknown account.';

revoke all on function public.connect_account(uuid, text, text, text, timestamptz, timestamptz, timestamptz)
  from public, anon, authenticated;
revoke all on function public.deactivate_account(uuid, timestamptz) from public, anon, authenticated;
grant execute on function public.connect_account(uuid, text, text, text, timestamptz, timestamptz, timestamptz)
  to service_role;
grant execute on function public.deactivate_account(uuid, timestamptz) to service_role;
