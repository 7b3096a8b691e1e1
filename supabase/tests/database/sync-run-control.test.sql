-- Run control (20261123002000_sync_run_control.sql): a live scheduled run is never taken
-- over, a dead one is resumed in its own name, manual runs run beside it, and a run only
-- finishes when its accounts are done (or with a reason, skipping the rest).
begin;
select plan(16);

create temporary table r (label text primary key, outcome text, run_id uuid, other uuid) on commit drop;

insert into r select 'first', * from public.begin_sync_run('scheduled_sync', 'cron', '{}', '5 minutes');
select is((select outcome from r where label = 'first'), 'started', 'a scheduled run starts when the lock is free');

insert into r select 'second', * from public.begin_sync_run('scheduled_sync', 'cron', '{}', '5 minutes');
select is((select outcome from r where label = 'second'), 'skipped', 'a second trigger is skipped while the lease is live');
select is((select other from r where label = 'second'), (select run_id from r where label = 'first'),
  'the skipped trigger names the running run');
select is((select status from public.system_job_logs where id = (select run_id from r where label = 'second')),
  'skipped', 'the skipped trigger is recorded as a skipped run');

insert into r select 'nearly', * from public.begin_sync_run('scheduled_sync', 'cron', '{}', '5 minutes',
  now() + interval '4 minutes 59 seconds');
select is((select outcome from r where label = 'nearly'), 'skipped', 'a live lease is never taken over, even near its end');

select ok(public.heartbeat_sync_run((select run_id from r where label = 'first'), 'w', '5 minutes',
  now() + interval '4 minutes'), 'the heartbeat renews the lease');
insert into r select 'after-heartbeat', * from public.begin_sync_run('scheduled_sync', 'cron', '{}', '5 minutes',
  now() + interval '6 minutes');
select is((select outcome from r where label = 'after-heartbeat'), 'skipped',
  'a renewed lease is still live after the first TTL');

insert into r select 'dead', * from public.begin_sync_run('scheduled_sync', 'cron', '{}', '5 minutes',
  now() + interval '10 minutes');
select is((select outcome from r where label = 'dead'), 'resumed', 'an expired lease of a running run is taken over');
select is((select run_id from r where label = 'dead'), (select run_id from r where label = 'first'),
  'the dead run is resumed, not replaced');
select is((select (metadata ->> 'interruptions')::int from public.system_job_logs
  where id = (select run_id from r where label = 'first')), 1, 'the interruption is recorded');

insert into r select 'manual', * from public.begin_sync_run('manual_sync', 'manual', '{"accountIds": []}', '5 minutes');
select is((select outcome from r where label = 'manual'), 'started', 'a manual run starts beside a scheduled one');

-- A run with an unfinished account cannot finish without a reason.
insert into public.workspaces (id, name) values ('00000000-0000-0000-0000-0000000000a1', 'run control');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username)
values ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-0000000000a1', '901', 'rc_user');
insert into public.sync_run_accounts (run_id, workspace_threads_account_id, position, next_attempt_at, enqueued_at)
select run_id, '00000000-0000-0000-0000-0000000000b1', 1, now(), now() from r where label = 'first';

select throws_ok(format('select public.finish_sync_run(%L)', (select run_id from r where label = 'first')),
  'TS223', null, 'a run with unfinished accounts cannot finish');
select is(public.finish_sync_run((select run_id from r where label = 'first'), 'api_unavailable', 'the API is down'),
  'failed', 'with a reason it ends failed');
select is((select status || '/' || last_error_code from public.sync_run_accounts
  where run_id = (select run_id from r where label = 'first')), 'skipped/api_unavailable',
  'its pending accounts are skipped with the reason');
select ok((select released_at is not null from public.system_job_locks where job_name = 'scheduled_sync'),
  'finishing releases the lock');
select is((select outcome from public.continue_sync_run((select run_id from r where label = 'first'), '5 minutes')),
  'finished', 'a continuation of a finished run does nothing');

select * from finish();
rollback;
