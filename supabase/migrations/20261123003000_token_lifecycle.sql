-- Token lifecycle columns on workspace_threads_tokens: when a token was issued, how we got it,
-- and whether the Threads API rejected it.
--
-- Why each column exists:
--   issued_at     Threads refreshes a long-lived token only once it is at least 24 hours old
--                 and not expired (threads-api.md section 6), so token-refresh must know the
--                 token's age. The API does not tell it; we record the best estimate we have:
--                 the refresh time for refreshed tokens (exact), and for connected tokens the
--                 60-day lifetime counted back from the expiry (a long-lived token's expiry is
--                 its issue time + 60 days), never later than the time we stored it.
--   obtained_via  'connect' (an operator connected the account) or 'refresh' (token-refresh
--                 replaced an older token), so the console can tell the two apart.
--   rejected_at,  set when the API answered a call with this token with an authentication
--   rejected_reason  error (Graph code 190/102: expired, revoked, password changed, ...).
--                 Such a token can never work again: the sync and token-refresh skip it and
--                 the console (account_token_health) lists the account as needing a
--                 reconnect. Connecting the account again stores a new, unrejected token.
--
-- A rejected token stays primary until it is replaced: it is still the account's latest
-- credential, and keeping it primary keeps "at most one primary, unrevoked token" meaningful
-- (revoked_at means "replaced or withdrawn by us", rejected_at means "refused by the API").

alter table public.workspace_threads_tokens
  add column issued_at timestamptz,
  add column obtained_via text not null default 'connect',
  add column rejected_at timestamptz,
  add column rejected_reason text;

-- Existing tokens: the estimate described above.
update public.workspace_threads_tokens t
set issued_at = least(t.created_at, t.expires_at - interval '60 days');

alter table public.workspace_threads_tokens
  alter column issued_at set not null,
  add constraint workspace_threads_tokens_obtained_via_check
    check (obtained_via in ('connect', 'refresh')),
  -- A token is issued before it expires.
  add constraint workspace_threads_tokens_issued_before_expiry check (issued_at < expires_at),
  -- A rejection always says why, and a reason is only recorded with its time.
  add constraint workspace_threads_tokens_rejection_complete
    check ((rejected_at is null) = (rejected_reason is null)
      and (rejected_reason is null or btrim(rejected_reason) <> ''));

/**
 * default_token_issued_at() -> trigger
 *
 * BEFORE INSERT on workspace_threads_tokens: an insert that does not say when the token was
 * issued gets the estimate described above, least(created_at, expires_at - 60 days). A column
 * default cannot read other columns, hence the trigger; store_account_token always passes the
 * value, so this serves direct inserts (local demo tooling, tests, an operator's SQL).
 * Who: fires on insert only; not callable directly. Security invoker.
 */
create function public.default_token_issued_at()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.issued_at is null then
    new.issued_at := least(coalesce(new.created_at, now()), new.expires_at - interval '60 days');
  end if;
  return new;
end;
$$;

comment on function public.default_token_issued_at() is
  'BEFORE INSERT trigger on workspace_threads_tokens: issued_at defaults to least(created_at, expires_at - 60 days).';

revoke all on function public.default_token_issued_at() from public, anon, authenticated;

create trigger _100_default_issued_at
  before insert on public.workspace_threads_tokens
  for each row execute function public.default_token_issued_at();

comment on column public.workspace_threads_tokens.issued_at is
  'When the API issued this token, as best known: exact for refreshed tokens; for connected ones, expires_at - 60 days capped at the time it was stored. token-refresh refreshes a token only once issued_at is 24 hours past.';
comment on column public.workspace_threads_tokens.obtained_via is
  'connect: stored by connect-account (an operator); refresh: stored by token-refresh in place of an older token.';
comment on column public.workspace_threads_tokens.rejected_at is
  'When the Threads API refused this token (Graph 190/102). A rejected token is never used again; the account needs reconnecting (see account_token_health).';
comment on column public.workspace_threads_tokens.rejected_reason is
  'What the API said when it refused the token (no token text), e.g. "auth_expired: ... Graph code 190/463".';
