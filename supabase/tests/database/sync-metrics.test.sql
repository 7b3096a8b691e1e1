-- collect_sync_metrics: the endpoint's figures from seeded rows (rolled back), its guard, and
-- the job types and statuses it zero-fills against the tables' own check constraints.
begin;
select plan(7);
set local client_min_messages = warning;

insert into public.workspaces (id, name) values ('33333333-3333-3333-3333-333333333333', 'Metrics');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('bbbbbbbb-0000-0000-0000-000000000001', '33333333-3333-3333-3333-333333333333', '3001', 'mia'),
  ('bbbbbbbb-0000-0000-0000-000000000002', '33333333-3333-3333-3333-333333333333', '3002', 'max');
insert into public.system_job_logs (id, job_type, trigger, status, started_at, completed_at, metadata)
values ('cccccccc-0000-0000-0000-000000000001', 'manual_sync', 'manual', 'completed',
  now() - interval '2 hours', now() - interval '2 hours' + interval '40 seconds',
  '{"total_accounts": 2, "success_count": 2, "error_count": 0, "skipped_count": 0}');
-- The busiest account's 24-hour calls: 30,000 in the window, plus 9,000 from two days ago.
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, completed_at, metadata)
values
  ('cccccccc-0000-0000-0000-000000000001', 'bbbbbbbb-0000-0000-0000-000000000001', 'sync_posts', 'completed',
    now() - interval '2 hours', now() - interval '2 hours', '{"api_calls": 30000, "api_rate_limit_errors": 2}'),
  ('cccccccc-0000-0000-0000-000000000001', 'bbbbbbbb-0000-0000-0000-000000000002', 'sync_posts', 'completed',
    now() - interval '2 hours', now() - interval '2 hours', '{"api_calls": 100}'),
  ('cccccccc-0000-0000-0000-000000000001', 'bbbbbbbb-0000-0000-0000-000000000001', 'sync_metrics', 'completed',
    now() - interval '2 days', now() - interval '2 days', '{"api_calls": 9000, "api_rate_limit_errors": 5}');
insert into public.alert_incidents (kind, subject, summary, opened_at, last_seen_at, notify_after)
values
  ('run_failed', 'scheduled_sync', 'seeded', now(), now(), now() - interval '1 minute'),
  -- Not an incident yet by its own rule (rate limited for less than an hour): not counted.
  ('account_rate_limited', 'bbbbbbbb-0000-0000-0000-000000000002', 'seeded', now(), now(), now() + interval '1 hour');

create temp table m as select * from public.collect_sync_metrics(48000);
-- The 24-hour totals include whatever else the database holds in the window.
create temp table base as
select sum((s.metadata ->> 'api_calls')::numeric)::float8 as calls,
  coalesce(sum((s.metadata ->> 'api_rate_limit_errors')::numeric), 0)::float8 as limited
from public.sync_logs s where s.completed_at > now() - interval '24 hours';

select is((select value from m where metric = 'threads_sync_account_call_budget_max_share'),
  greatest(30000, (select max(c) from (select sum((s.metadata ->> 'api_calls')::numeric) c
    from public.sync_logs s where s.completed_at > now() - interval '24 hours'
    group by s.workspace_threads_account_id) x))::float8 / 48000,
  'the highest account''s share counts only its calls of the last 24 hours');
select is((select value from m where metric = 'threads_sync_api_calls_24h'), (select calls from base),
  'API calls are summed over the 24-hour window');
select is((select value from m where metric = 'threads_sync_api_rate_limited_24h'), (select limited from base),
  'rate-limit answers are summed over the 24-hour window');
select is((select value from m where metric = 'threads_sync_open_incidents' and labels ->> 'kind' = 'run_failed'),
  (select count(*)::float8 from public.alert_incidents where kind = 'run_failed' and resolved_at is null and notify_after <= now()),
  'open incidents past their notify time are counted by kind');
select is(
  (select array_agg(distinct labels ->> 'job_type' order by labels ->> 'job_type') from m
    where metric = 'threads_sync_runs_24h' and labels ->> 'job_type' <> all (
      select distinct job_type from public.system_job_logs where started_at > now() - interval '24 hours')),
  (select array_agg(v order by v) from (
    select (regexp_matches(pg_get_constraintdef(oid), '''([a-z_]+)''', 'g'))[1] v
    from pg_constraint where conname = 'system_job_logs_job_type_check') c
    where v not in (select distinct job_type from public.system_job_logs where started_at > now() - interval '24 hours')),
  'the zero-filled job types are the check constraint''s');
select is(
  (select array_agg(distinct labels ->> 'kind' order by labels ->> 'kind') from m
    where metric = 'threads_sync_open_incidents'),
  (select array_agg(v order by v) from (
    select (regexp_matches(pg_get_constraintdef(oid), '''([a-z_]+)''', 'g'))[1] v
    from pg_constraint where conname = 'alert_incidents_kind') c),
  'the incident kinds are the check constraint''s');
select throws_ok($$ select * from public.collect_sync_metrics(0) $$, 'TS251',
  'p_daily_call_budget must be a positive integer: current value is 0',
  'a budget of 0 is refused');

select * from finish();
rollback;
