-- The freshness objective (issue 15, item 1): the one number that says whether the product
-- does its job. An account is fresh when its last complete sync
-- (workspace_threads_accounts.last_synced_at, set only by finish_run_account on a 'completed'
-- outcome: a failed or partial sync never moves it) is younger than the target.
--
--   select * from public.sync_freshness;   -- the overall row first, then one per workspace
--
-- The target lives in a one-row settings table rather than in an environment variable: the
-- view is SQL, and the database cannot read the functions' variables. The local stack copies
-- SYNC_FRESHNESS_TARGET_MINUTES into it on `npm run stack -- up`; on a hosted project an
-- operator updates the row once (README, "Knowing it works").

/** monitoring_settings: the operator's thresholds, exactly one row. */
create table public.monitoring_settings (
  -- Always true: the primary key makes a second row impossible.
  id boolean primary key default true constraint monitoring_settings_one_row check (id),
  -- 30 minutes: two ticks of the 15-minute schedule, so one late or failed run is tolerated
  -- and two in a row are not.
  sync_freshness_target_minutes integer not null default 30
    constraint monitoring_settings_freshness_target_positive
    check (sync_freshness_target_minutes between 1 and 10080),
  updated_at timestamptz not null default now()
);

comment on table public.monitoring_settings is
  'One row of monitoring thresholds: sync_freshness_target_minutes (SYNC_FRESHNESS_TARGET_MINUTES, default 30). Update it; never insert or delete.';

insert into public.monitoring_settings default values;

alter table public.monitoring_settings enable row level security;
revoke all on public.monitoring_settings from anon, authenticated;

/**
 * sync_freshness: per workspace and overall (workspace_id NULL, first row), the share of
 * active accounts that are fresh (last complete sync younger than the target), the counts, and
 * the oldest last complete sync with its age. Accounts never synced are active and not fresh;
 * they are counted in never_synced and do not enter the oldest figure (they have no sync).
 * fresh_share is NULL when there is no active account (nothing to be fresh).
 */
create view public.sync_freshness
with (security_invoker = true)
as
select
  case when grouping(a.workspace_id) = 1 then 'overall' else 'workspace' end as scope,
  a.workspace_id,
  case when grouping(a.workspace_id) = 1 then null else min(w.name) end as workspace_name,
  count(a.id) filter (where a.last_synced_at > now() - t.target) as fresh_accounts,
  count(a.id) as active_accounts,
  round(count(a.id) filter (where a.last_synced_at > now() - t.target)::numeric
    / nullif(count(a.id), 0), 4) as fresh_share,
  count(a.id) filter (where a.last_synced_at is null) as never_synced,
  min(a.last_synced_at) as oldest_complete_sync_at,
  date_trunc('second', now() - min(a.last_synced_at)) as oldest_complete_sync_age,
  max(t.target_minutes) as target_minutes
from (
  select m.sync_freshness_target_minutes as target_minutes,
    make_interval(mins => m.sync_freshness_target_minutes) as target
  from public.monitoring_settings m
) t
-- A left join keeps the overall row (and the target) when there is no active account.
left join (public.workspace_threads_accounts a join public.workspaces w on w.id = a.workspace_id)
  on a.is_active
group by grouping sets ((a.workspace_id), ())
-- Without active accounts the left join's NULL would form a workspace group of its own.
having grouping(a.workspace_id) = 1 or a.workspace_id is not null
order by grouping(a.workspace_id) desc, min(w.name), a.workspace_id;

comment on view public.sync_freshness is
  'Freshness objective: per workspace and overall (scope overall, workspace_id NULL, first row): fresh_accounts / active_accounts = fresh_share (last complete sync younger than monitoring_settings.sync_freshness_target_minutes), never_synced, oldest complete sync and its age. Overall row: select * from sync_freshness where scope = ''overall'';';

revoke all on public.sync_freshness from anon, authenticated;
