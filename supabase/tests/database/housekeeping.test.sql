-- run_housekeeping: trims cron.job_run_details (14 days) and finished runs with their step
-- logs and progress (90 days), resolved alert incidents and sent alert messages (30 days),
-- closes dead runs, never touches a live run; the daily pg_cron job is registered once.
begin;
select plan(14);
set local client_min_messages = warning;

insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice');

-- e1: finished 100 days ago (goes, with 2 step logs and 1 progress row). e2: finished 10 days
-- ago (stays). e3: running, silent for 100 days, no lock (closed as dead, then kept: it just
-- finished). e4: started 100 days ago, still running under a live lock (untouched).
insert into public.system_job_logs (id, job_type, trigger, status, started_at, completed_at, heartbeat_at, metadata) values
  ('eeeeeeee-0000-0000-0000-000000000001', 'scheduled_sync', 'cron', 'completed', now() - interval '100 days', now() - interval '100 days',
   now() - interval '100 days', '{"total_accounts": 1, "success_count": 1, "error_count": 0, "skipped_count": 0}'),
  ('eeeeeeee-0000-0000-0000-000000000002', 'scheduled_sync', 'cron', 'completed', now() - interval '10 days', now() - interval '10 days',
   now() - interval '10 days', '{"total_accounts": 1, "success_count": 1, "error_count": 0, "skipped_count": 0}');
insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at) values
  ('eeeeeeee-0000-0000-0000-000000000003', 'manual_sync', 'manual', now() - interval '100 days', now() - interval '100 days'),
  ('eeeeeeee-0000-0000-0000-000000000004', 'scheduled_sync', 'cron', now() - interval '100 days', now() - interval '100 days');
do $$ begin
  perform public.claim_job_lock('housekeeping-test', 'w', interval '5 minutes', 'eeeeeeee-0000-0000-0000-000000000004');
end $$;
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, completed_at) values
  ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', now() - interval '100 days', now() - interval '100 days'),
  ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_metrics', 'completed', now() - interval '100 days', now() - interval '100 days'),
  ('eeeeeeee-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', now() - interval '10 days', now() - interval '10 days');
insert into public.sync_run_accounts (run_id, workspace_threads_account_id, position, status, attempts, next_attempt_at, enqueued_at, finished_at) values
  ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 1, 'completed', 1, now() - interval '100 days', now() - interval '100 days', now() - interval '100 days'),
  ('eeeeeeee-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-000000000001', 1, 'completed', 1, now() - interval '10 days', now() - interval '10 days', now() - interval '10 days');
insert into cron.job_run_details (jobid, job_pid, database, username, command, status, return_message, start_time, end_time)
select (select jobid from cron.job where jobname = 'housekeeping'), 1, 'postgres', 'postgres', 'housekeeping-test', 'succeeded', '1 row',
  now() - d, now() - d
from unnest(array[interval '20 days', interval '15 days', interval '1 day']) d;

-- Alerts. i1: resolved 40 days ago, 2 delivered messages (all go). i2: resolved 10 days ago
-- (stays). i3: open for 40 days (stays). Their 41- and 40-day-old delivered messages go. Test
-- messages from 40 days ago: the delivered one goes, the one never sent stays.
insert into public.alert_incidents (id, kind, subject, summary, opened_at, last_seen_at, notify_after, notified_at, resolved_at)
overriding system value values
  (900001, 'run_failed', 'housekeeping-test-1', 'old', now() - interval '41 days', now() - interval '40 days', now() - interval '41 days', now() - interval '41 days', now() - interval '40 days'),
  (900002, 'run_failed', 'housekeeping-test-2', 'recent', now() - interval '41 days', now() - interval '10 days', now() - interval '41 days', now() - interval '41 days', now() - interval '10 days'),
  (900003, 'run_failed', 'housekeeping-test-3', 'open', now() - interval '40 days', now(), now() - interval '40 days', now() - interval '40 days', null);
insert into public.alert_messages (incident_id, event, body, created_at, delivered_at, request_id) values
  (900001, 'opened', '{"text": "hk-1"}', now() - interval '41 days', now() - interval '41 days', null),
  (900001, 'resolved', '{"text": "hk-1"}', now() - interval '40 days', now() - interval '40 days', null),
  (900002, 'opened', '{"text": "hk-2"}', now() - interval '41 days', now() - interval '41 days', null),
  (900003, 'opened', '{"text": "hk-3"}', now() - interval '40 days', now() - interval '40 days', null),
  (null, 'test', '{"text": "hk-test"}', now() - interval '40 days', now() - interval '40 days', null),
  (null, 'test', '{"text": "hk-test"}', now() - interval '40 days', null, 424242);

-- What should go, counted beforehand so rows left by other suites cannot skew the check.
create temporary table expected as
select
  (select count(*) from public.find_stale_runs(interval '30 minutes')) as stale_runs_closed,
  (select count(*) from cron.job_run_details where coalesce(end_time, start_time) < now() - interval '14 days') as cron_job_run_details,
  (select count(*) from public.system_job_logs where status <> 'running' and completed_at < now() - interval '90 days') as system_job_logs,
  (select count(*) from public.sync_logs s join public.system_job_logs j on j.id = s.run_id
   where j.status <> 'running' and j.completed_at < now() - interval '90 days') as sync_logs,
  (select count(*) from public.sync_run_accounts s join public.system_job_logs j on j.id = s.run_id
   where j.status <> 'running' and j.completed_at < now() - interval '90 days') as sync_run_accounts,
  (select count(*) from public.alert_incidents where resolved_at < now() - interval '30 days') as alert_incidents,
  (select count(*) from public.alert_messages m where m.incident_id in
     (select i.id from public.alert_incidents i where i.resolved_at < now() - interval '30 days')
     or (m.created_at < now() - interval '30 days' and (m.delivered_at is not null or m.dropped_at is not null))) as alert_messages;

select is(public.run_housekeeping(), (select to_jsonb(e) from expected e),
  'run_housekeeping returns what it closed and deleted');
select is((select to_jsonb(e) @> '{"cron_job_run_details": 2, "system_job_logs": 1, "sync_logs": 2, "sync_run_accounts": 1}' from expected e)
  and (select stale_runs_closed >= 1 from expected), true,
  'this fixture''s share: 2 cron rows, 1 run, its 2 step logs and its progress row, 1 dead run');
select results_eq(
  $$ select id from public.system_job_logs where job_type <> 'housekeeping' and id::text like 'eeeeeeee-%' order by id $$,
  $$ values ('eeeeeeee-0000-0000-0000-000000000002'::uuid), ('eeeeeeee-0000-0000-0000-000000000003'::uuid),
            ('eeeeeeee-0000-0000-0000-000000000004'::uuid) $$,
  'the 100-day-old finished run is gone; the recent, the just-closed and the live run stay');
select results_eq(
  $$ select (select count(*) from public.sync_logs), (select count(*) from public.sync_run_accounts) $$,
  $$ values (1::bigint, 1::bigint) $$,
  'the old run''s step logs and progress went with it; the recent run''s stay');
select is((select alert_incidents >= 1 and alert_messages >= 5 from expected), true,
  'this fixture''s alert share: 1 incident, 5 messages');
select results_eq(
  $$ select i.id, i.resolved_at is null, count(m.id) from public.alert_incidents i
     left join public.alert_messages m on m.incident_id = i.id
     where i.subject like 'housekeeping-test-%' group by i.id order by i.id $$,
  $$ values (900002::bigint, false, 0::bigint), (900003, true, 0) $$,
  'alerts: an incident resolved 40 days ago goes with its messages; one resolved 10 days ago and an open one stay, their 40-day-old delivered messages go');
select is((select array_agg(delivered_at is null) from public.alert_messages where body ->> 'text' = 'hk-test'),
  array[true], 'a 40-day-old delivered test message goes; one never sent stays');
select is(
  (select array_agg(end_time > now() - interval '14 days') from cron.job_run_details where command = 'housekeeping-test'),
  array[true], 'cron.job_run_details keeps the last 14 days only');
select results_eq(
  $$ select status, error_code from public.system_job_logs where id in ('eeeeeeee-0000-0000-0000-000000000003', 'eeeeeeee-0000-0000-0000-000000000004') order by id $$,
  $$ values ('failed'::text, 'worker_lost'::text), ('running', null) $$,
  'a dead run is closed (worker_lost); a run under a live lock is left running, however old');
select results_eq(
  $$ select trigger, status, metadata = (select to_jsonb(e) from expected e) from public.system_job_logs where job_type = 'housekeeping' $$,
  $$ values ('manual'::text, 'completed'::text, true) $$,
  'housekeeping records itself as a run (trigger manual when not run by pg_cron), with its counts');
select is(public.run_housekeeping() - 'stale_runs_closed',
  '{"cron_job_run_details": 0, "system_job_logs": 0, "sync_logs": 0, "sync_run_accounts": 0, "alert_incidents": 0, "alert_messages": 0}'::jsonb,
  'a second run finds nothing more to delete');
select is((public.run_housekeeping(now() + interval '200 days') ->> 'system_job_logs')::int >= 2, true,
  'p_now moves the retention window (everything finished is old 200 days on)');

-- The schedule: cron.schedule with a name is an upsert.
do $$ begin perform cron.schedule('housekeeping', '17 3 * * *', 'select public.run_housekeeping()'); end $$;
select is((select count(*) from cron.job where jobname = 'housekeeping'), 1::bigint,
  'scheduling housekeeping again leaves one job');
select is((select active from cron.job where jobname = 'housekeeping'), true, 'the housekeeping job is active');

select * from finish();
rollback;
