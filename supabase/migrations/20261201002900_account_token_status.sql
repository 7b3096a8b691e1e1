-- One definition of a token's health (issue 14, item 3): the rule that names an account's
-- token ok, expiring_soon, expired, rejected or missing, and says whether the account needs a
-- person to reconnect it, in one small view that everything else reads.
--
--   account_token_status   the rule alone: one row per account, the primary unrevoked token's
--                          status, needs_reconnect and expiry (a join on two keys, no log read)
--   account_token_health   (replaced) the same columns and rows as before, its status and
--                          needs_reconnect now taken from account_token_status
--
-- Before this, the metrics (collect_sync_metrics) wrote the rule out a second time because
-- account_token_health also finds each account's last token refresh, a walk back through the
-- account's step rows that a scrape must not pay.
--
-- Until this migration account_token_health (20261123003500) held the rule itself. The
-- statuses are unchanged:
--   ok             a usable token that expires in more than 15 days
--   expiring_soon  usable, expires within 15 days (TOKEN_REFRESH_WINDOW_DAYS' default)
--   expired        past its expiry: it can no longer be refreshed
--   rejected       the Threads API refused it
--   missing        no primary, unrevoked token (a deactivated account's token is revoked)
-- needs_reconnect: an active account whose token is expired, rejected or missing.

/**
 * account_token_status: per account (active or not), its primary unrevoked token (token_id,
 * NULL when there is none), token_status, needs_reconnect, expires_at and rejected_at.
 */
create view public.account_token_status
with (security_invoker = true)
as
select
  a.id as account_id,
  a.is_active,
  t.id as token_id,
  s.token_status,
  a.is_active and s.token_status in ('expired', 'rejected', 'missing') as needs_reconnect,
  t.expires_at,
  t.rejected_at
from public.workspace_threads_accounts a
left join public.workspace_threads_tokens t
  on t.workspace_threads_account_id = a.id and t.is_primary and t.revoked_at is null
cross join lateral (
  select case
      when t.id is null then 'missing'
      when t.rejected_at is not null then 'rejected'
      when t.expires_at <= now() then 'expired'
      when t.expires_at <= now() + interval '15 days' then 'expiring_soon'
      else 'ok'
    end as token_status
) s;

comment on view public.account_token_status is
  'The token health rule, per account: token_status of the primary unrevoked token (ok, expiring_soon within 15 days, expired, rejected, missing) and needs_reconnect (active and expired/rejected/missing). account_token_health and the metrics read it; read account_token_health for the details.';

-- The console is for operators (postgres, service_role) only, like the other views.
revoke all on table public.account_token_status from anon, authenticated;

-- account_token_health, with the status from the rule above. A replaced view keeps its
-- columns (names, types, order) and its grants; the rows and their order are unchanged.
create or replace view public.account_token_health
with (security_invoker = true)
as
select
  w.id as workspace_id,
  w.name as workspace_name,
  a.id as account_id,
  a.username,
  a.is_active,
  s.token_status,
  s.needs_reconnect,
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
from public.account_token_status s
join public.workspace_threads_accounts a on a.id = s.account_id
join public.workspaces w on w.id = a.workspace_id
left join public.workspace_threads_tokens t on t.id = s.token_id
left join lateral (
  -- The last successful refresh of this account (any token).
  select l.completed_at
  from public.sync_logs l
  where l.workspace_threads_account_id = a.id and l.job_type = 'token_refresh'
    and l.status = 'completed'
  order by l.completed_at desc
  limit 1
) r on true
left join lateral (
  -- The last refresh that did not succeed, if it came after the last success.
  select l.completed_at, l.error_code, l.error_message
  from public.sync_logs l
  where l.workspace_threads_account_id = a.id and l.job_type = 'token_refresh'
    and l.status <> 'completed'
    and l.completed_at > coalesce(r.completed_at, '-infinity'::timestamptz)
  order by l.completed_at desc
  limit 1
) e on true
order by s.needs_reconnect desc, t.expires_at nulls first, w.name, a.username;
