-- Console views (DESIGN 4.4): each answers an operator's question in one select.
--
--   select * from public.sync_run_overview limit 20;          -- the last runs, outcome, duration
--   select * from public.account_sync_health;                  -- each account's freshness
--   select * from public.accounts_failing_repeatedly;          -- who needs attention
--
-- security_invoker = true: a view reads the tables with the rights of whoever queries it, so
-- it can never expose more than the tables' own grants and RLS allow (the advisors flag a
-- view that runs with its owner's rights).

-- sync_run_overview: one row per run (system_job_logs), newest first. Account counts come
-- from the run's sync_run_accounts rows (exact, and live while the run is going), falling back
-- to the counts in metadata for runs that tracked no accounts. api_calls is whatever the sync
-- summed into metadata.api_calls (add_sync_run_figures).
create view public.sync_run_overview
with (security_invoker = true)
as
select
  j.id,
  j.job_type,
  j.trigger,
  j.status,
  j.started_at,
  j.completed_at,
  -- A running run shows its age so far.
  date_trunc('second', coalesce(j.completed_at, now()) - j.started_at) as duration,
  -- Runs that tracked their accounts (sync_run_accounts) are counted from those rows, live
  -- while running; others (a skipped run, a token refresh) from the counts in metadata.
  coalesce(nullif(ra.total, 0), m.total_accounts) as accounts_total,
  case when ra.total > 0 then ra.completed else m.success_count end as accounts_ok,
  case when ra.total > 0 then ra.partial end as accounts_partial,
  case when ra.total > 0 then ra.failed else m.error_count end as accounts_failed,
  case when ra.total > 0 then ra.skipped else m.skipped_count end as accounts_skipped,
  case when ra.total > 0 then ra.unfinished end as accounts_unfinished,
  j.invocations,
  m.api_calls,
  j.heartbeat_at,
  j.error_code,
  j.error_message
from public.system_job_logs j
cross join lateral (
  -- metadata numbers, NULL when absent or not a number (a view must not fail on one bad row).
  select
    case when jsonb_typeof(j.metadata -> 'total_accounts') = 'number' then (j.metadata ->> 'total_accounts')::numeric::bigint end as total_accounts,
    case when jsonb_typeof(j.metadata -> 'success_count') = 'number' then (j.metadata ->> 'success_count')::numeric::bigint end as success_count,
    case when jsonb_typeof(j.metadata -> 'error_count') = 'number' then (j.metadata ->> 'error_count')::numeric::bigint end as error_count,
    case when jsonb_typeof(j.metadata -> 'skipped_count') = 'number' then (j.metadata ->> 'skipped_count')::numeric::bigint end as skipped_count,
    case when jsonb_typeof(j.metadata -> 'api_calls') = 'number' then (j.metadata ->> 'api_calls')::numeric::bigint end as api_calls
) m
cross join lateral (
  select
    count(*) as total,
    count(*) filter (where r.status = 'completed') as completed,
    count(*) filter (where r.status = 'partial') as partial,
    count(*) filter (where r.status = 'failed') as failed,
    count(*) filter (where r.status = 'skipped') as skipped,
    count(*) filter (where r.status in ('pending', 'in_progress')) as unfinished
  from public.sync_run_accounts r
  where r.run_id = j.id
) ra
order by j.started_at desc;

comment on view public.sync_run_overview is
  'Runs, newest first: type, trigger, status, duration (so far, if running), accounts total/ok/partial/failed/skipped/unfinished, invocations, api_calls (metadata), error. Use: select * from sync_run_overview limit 20;';

-- account_sync_health: one row per account, stalest first. "Success" means a sync in which
-- every step completed (workspace_threads_accounts.last_synced_at, set by finish_run_account);
-- the last error is the latest non-completed sync_logs row (step, code, message), and
-- consecutive_failures counts the failed or partial runs since the last success.
create view public.account_sync_health
with (security_invoker = true)
as
select
  w.id as workspace_id,
  w.name as workspace_name,
  a.id as account_id,
  a.username,
  a.is_active,
  -- The last sync that completed every step; partial and failed syncs never count as fresh.
  a.last_synced_at as last_success_at,
  e.completed_at as last_error_at,
  e.job_type as last_error_step,
  e.error_code as last_error_code,
  e.error_message as last_error_message,
  floor(extract(epoch from now() - a.last_synced_at) / 60)::integer as minutes_since_last_success,
  -- Runs since the last complete success in which this account failed or partly failed.
  -- Skipped outcomes (e.g. expired token, run abandoned) neither count nor reset.
  f.consecutive_failures
from public.workspace_threads_accounts a
join public.workspaces w on w.id = a.workspace_id
left join lateral (
  select s.completed_at, s.job_type, s.error_code, s.error_message
  from public.sync_logs s
  where s.workspace_threads_account_id = a.id and s.status <> 'completed'
  order by s.completed_at desc
  limit 1
) e on true
cross join lateral (
  select count(*)::integer as consecutive_failures
  from public.sync_run_accounts r
  where r.workspace_threads_account_id = a.id
    and r.status in ('failed', 'partial')
    and r.finished_at > coalesce(a.last_synced_at, '-infinity'::timestamptz)
) f
order by a.last_synced_at nulls first, w.name, a.username;

comment on view public.account_sync_health is
  'Per account: workspace, username, is_active, last complete success, last error (time, step, code, message from sync_logs), minutes since last success, consecutive failed/partial runs since then. Stalest first.';

-- accounts_failing_repeatedly: the accounts that need a person. Three runs in a row is about
-- 45 minutes of failing at the 15-minute schedule: long enough to rule out a blip, short
-- enough to act the same morning. Deactivated accounts are left out: nobody syncs them.
create view public.accounts_failing_repeatedly
with (security_invoker = true)
as
select h.*
from public.account_sync_health h
where h.is_active and h.consecutive_failures >= 3
order by h.consecutive_failures desc, h.workspace_name, h.username;

comment on view public.accounts_failing_repeatedly is
  'Active accounts whose last 3 or more runs failed or partly failed since their last complete success (account_sync_health rows).';

-- Views get the API roles' default grants like tables do; the console is for operators
-- (postgres, service_role) only.
revoke all on table public.sync_run_overview, public.account_sync_health,
  public.accounts_failing_repeatedly from anon, authenticated;
