-- Console view of the accounts' tokens (DESIGN 4.4 style: one question, one select):
--
--   select * from public.account_token_health;                         -- every account's token
--   select * from public.account_token_health where needs_reconnect;   -- who must reconnect
--
-- token_status, the one column to read first:
--   ok             a usable token that expires in more than 15 days
--   expiring_soon  usable, expires within 15 days (TOKEN_REFRESH_WINDOW_DAYS' default: the daily
--                  token-refresh run should replace it; if it stays here for days, read
--                  last_refresh_error_*)
--   expired        past its expiry: it can no longer be refreshed
--   rejected       the Threads API refused it (rejected_reason says why)
--   missing        no primary, unrevoked token (a deactivated account's token is revoked)
-- needs_reconnect: an active account whose token is expired, rejected or missing; only a
-- person can fix it (connect-account with a fresh token), and until then it is not synced.

create view public.account_token_health
with (security_invoker = true)
as
select
  w.id as workspace_id,
  w.name as workspace_name,
  a.id as account_id,
  a.username,
  a.is_active,
  case
    when t.id is null then 'missing'
    when t.rejected_at is not null then 'rejected'
    when t.expires_at <= now() then 'expired'
    when t.expires_at <= now() + interval '15 days' then 'expiring_soon'
    else 'ok'
  end as token_status,
  a.is_active and (t.id is null or t.rejected_at is not null or t.expires_at <= now())
    as needs_reconnect,
  t.id as token_id,
  t.obtained_via,
  t.issued_at,
  t.expires_at,
  -- Whole days left (negative once expired), for sorting and alerting.
  floor(extract(epoch from t.expires_at - now()) / 86400)::integer as days_until_expiry,
  t.rejected_at,
  t.rejected_reason,
  r.completed_at as last_refreshed_at,
  e.completed_at as last_refresh_error_at,
  e.error_code as last_refresh_error_code,
  e.error_message as last_refresh_error_message
from public.workspace_threads_accounts a
join public.workspaces w on w.id = a.workspace_id
left join public.workspace_threads_tokens t
  on t.workspace_threads_account_id = a.id and t.is_primary and t.revoked_at is null
left join lateral (
  -- The last successful refresh of this account (any token).
  select s.completed_at
  from public.sync_logs s
  where s.workspace_threads_account_id = a.id and s.job_type = 'token_refresh'
    and s.status = 'completed'
  order by s.completed_at desc
  limit 1
) r on true
left join lateral (
  -- The last refresh that did not succeed, if it came after the last success.
  select s.completed_at, s.error_code, s.error_message
  from public.sync_logs s
  where s.workspace_threads_account_id = a.id and s.job_type = 'token_refresh'
    and s.status <> 'completed'
    and s.completed_at > coalesce(r.completed_at, '-infinity'::timestamptz)
  order by s.completed_at desc
  limit 1
) e on true
order by (a.is_active and (t.id is null or t.rejected_at is not null or t.expires_at <= now())) desc,
  t.expires_at nulls first, w.name, a.username;

comment on view public.account_token_health is
  'Per account: token_status (ok, expiring_soon within 15 days, expired, rejected, missing), needs_reconnect (active and expired/rejected/missing), expiry, rejection reason, last refresh and last refresh error (sync_logs token_refresh). Accounts needing a reconnect first.';

-- The console is for operators (postgres, service_role) only, like the other views.
revoke all on table public.account_token_health from anon, authenticated;
