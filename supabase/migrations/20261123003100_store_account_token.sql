-- Storing and rejecting tokens: the two writes the token rules depend on, as SQL functions so
-- the rules live in the database and hold for every caller (connect-account, token-refresh,
-- an operator at the console).
--
--   store_account_token   the new token becomes the account's primary one and the previous
--                         primary is revoked, in one transaction: never two primaries, never
--                         none in between
--   mark_token_rejected   records that the API refused a token, so nothing uses it again

/**
 * store_account_token(p_account_id, p_access_token_encrypted, p_expires_at, p_issued_at,
 *                     p_replaces_token_id, p_now) -> uuid
 *
 * Stores an encrypted token (`v1.<iv>.<ciphertext>`, encrypted by the caller: the database
 * never sees a plaintext token) as the account's primary token and revokes the previous
 * primary (revoked_at = p_now), in one transaction. The account row is locked first, so two
 * concurrent stores for one account take turns and the second revokes the first's token.
 *
 *   p_issued_at          when the API issued the token; default least(p_now, p_expires_at -
 *                        60 days), the estimate for a long-lived token (see issued_at)
 *   p_replaces_token_id  NULL: a connect (obtained_via 'connect'), replacing whatever is
 *                        primary. Given: a refresh of that token (obtained_via 'refresh'); the
 *                        token is stored only if p_replaces_token_id is still the primary,
 *                        unrevoked token, so a refresh that raced with a reconnect never
 *                        replaces the newer, connected token.
 *
 * Returns the new token's id; NULL (nothing changed) when p_replaces_token_id is given and is
 * no longer the account's primary, unrevoked token.
 * Raises:
 *   TS302  the account does not exist
 *   TS303  p_expires_at is not after p_now (an expired token is useless), or p_issued_at is
 *          after p_now
 *   23514  p_access_token_encrypted is not in the v1 format (the table's check)
 * Who: the functions (postgres, service_role) and operators. Security invoker.
 */
create function public.store_account_token(
  p_account_id uuid,
  p_access_token_encrypted text,
  p_expires_at timestamptz,
  p_issued_at timestamptz default null,
  p_replaces_token_id uuid default null,
  p_now timestamptz default now()
) returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
  current_primary uuid;
  new_token uuid;
begin
  perform from public.workspace_threads_accounts a where a.id = p_account_id for update;
  if not found then
    raise exception using errcode = 'TS302',
      message = format('Cannot store a token as account %s does not exist', p_account_id);
  end if;
  if p_expires_at is null or p_expires_at <= p_now then
    raise exception using errcode = 'TS303',
      message = format('Cannot store a token for account %s as it has expired: expires_at is %s', p_account_id,
        coalesce(p_expires_at::text, 'NULL'));
  end if;
  if p_issued_at > p_now then
    raise exception using errcode = 'TS303',
      message = format('p_issued_at must not be in the future: current value is %s', p_issued_at);
  end if;

  select t.id into current_primary
  from public.workspace_threads_tokens t
  where t.workspace_threads_account_id = p_account_id and t.is_primary and t.revoked_at is null;

  if p_replaces_token_id is not null and current_primary is distinct from p_replaces_token_id then
    return null;
  end if;

  -- Revoke first: the partial unique index allows one primary, unrevoked token per account.
  update public.workspace_threads_tokens t
  set revoked_at = p_now
  where t.id = current_primary;

  insert into public.workspace_threads_tokens (
    workspace_threads_account_id, access_token_encrypted, expires_at, issued_at, is_primary,
    obtained_via, created_at)
  values (p_account_id, p_access_token_encrypted, p_expires_at,
    coalesce(p_issued_at, least(p_now, p_expires_at - interval '60 days')), true,
    case when p_replaces_token_id is null then 'connect' else 'refresh' end, p_now)
  returning id into new_token;
  return new_token;
end;
$$;

comment on function public.store_account_token(uuid, text, timestamptz, timestamptz, uuid, timestamptz) is
  'Stores an encrypted token as the account''s primary and revokes the previous primary in one transaction; with p_replaces_token_id only if that token is still primary (else NULL). Raises TS302, TS303.';

/**
 * mark_token_rejected(p_token_id, p_reason, p_now) -> boolean
 *
 * Records that the Threads API refused the token (an authentication error: expired, revoked,
 * password changed, app removed). From then on the sync does not enqueue the account,
 * token-refresh does not try the token, and account_token_health reports the account as
 * needing a reconnect. The first rejection is kept (its time and reason).
 *
 * p_reason is what the API said, without the token; it is stored as given (trimmed to 500
 * characters).
 * Returns true when the token was marked now; false when it was already marked.
 * Raises:
 *   TS302  the token does not exist
 *   TS304  p_reason is blank
 * Who: the functions (postgres, service_role) and operators. Security invoker.
 */
create function public.mark_token_rejected(
  p_token_id uuid,
  p_reason text,
  p_now timestamptz default now()
) returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  if btrim(coalesce(p_reason, '')) = '' then
    raise exception using errcode = 'TS304',
      message = 'p_reason must say why the API rejected the token';
  end if;
  update public.workspace_threads_tokens t
  set rejected_at = p_now, rejected_reason = left(btrim(p_reason), 500)
  where t.id = p_token_id and t.rejected_at is null;
  if found then
    return true;
  end if;
  if not exists (select from public.workspace_threads_tokens t where t.id = p_token_id) then
    raise exception using errcode = 'TS302',
      message = format('Cannot mark token %s as rejected as it does not exist', p_token_id);
  end if;
  return false;
end;
$$;

comment on function public.mark_token_rejected(uuid, text, timestamptz) is
  'Marks a token as refused by the Threads API (rejected_at, rejected_reason): the sync and token-refresh skip it from then on. Raises TS302, TS304.';

revoke all on function public.store_account_token(uuid, text, timestamptz, timestamptz, uuid, timestamptz)
  from public, anon, authenticated;
revoke all on function public.mark_token_rejected(uuid, text, timestamptz) from public, anon, authenticated;
grant execute on function public.store_account_token(uuid, text, timestamptz, timestamptz, uuid, timestamptz)
  to service_role;
grant execute on function public.mark_token_rejected(uuid, text, timestamptz) to service_role;
