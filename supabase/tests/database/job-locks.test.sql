-- The job lock: one winner, takeover of an expired holder only, heartbeat, release by the
-- holder only. (A true two-session race cannot happen inside one transaction; the claims here
-- are sequential. The Deno tests race two connections.)
begin;
select plan(28);
set local client_min_messages = warning;

insert into public.system_job_logs (id, job_type, trigger, heartbeat_at) values
  ('00000000-0000-0000-0000-00000000000a', 'scheduled_sync', 'cron', now() - interval '1 hour'),
  ('00000000-0000-0000-0000-00000000000b', 'scheduled_sync', 'cron', now() - interval '1 hour');

-- First claim -------------------------------------------------------------------------------
select results_eq(
  $$ select * from public.claim_job_lock('scheduled-sync', 'worker-a', interval '5 minutes',
       '00000000-0000-0000-0000-00000000000a') $$,
  $$ values (true, null::text, null::uuid, false) $$,
  'the first claim acquires a new lock (no previous holder, no takeover)');
select results_eq(
  $$ select locked_by, run_id, expires_at = now() + interval '5 minutes', released_at is null
     from public.system_job_locks where job_name = 'scheduled-sync' $$,
  $$ values ('worker-a', '00000000-0000-0000-0000-00000000000a'::uuid, true, true) $$,
  'the lock row names the holder, its run and expires after the TTL');

-- A second claimer loses --------------------------------------------------------------------
select results_eq(
  $$ select * from public.claim_job_lock('scheduled-sync', 'worker-b', interval '5 minutes',
       '00000000-0000-0000-0000-00000000000b') $$,
  $$ values (false, 'worker-a'::text, '00000000-0000-0000-0000-00000000000a'::uuid, false) $$,
  'a second claim while the lock is live loses and learns the live holder and its run');
select is((select locked_by from public.system_job_locks where job_name = 'scheduled-sync'), 'worker-a',
  'exactly one winner: the holder is unchanged');
select is((select acquired from public.claim_job_lock('scheduled-sync', 'worker-a', interval '5 minutes')), false,
  'not re-entrant: the holder claiming its own live lock gets false (it extends instead)');
select is((select acquired from public.claim_job_lock('scheduled-sync', 'worker-b', interval '5 minutes',
    p_now => now() + interval '4 minutes 59 seconds')), false,
  'a live lock is never taken over, even a second before it expires');
select is((select acquired from public.claim_job_lock('other-job', 'worker-b', interval '5 minutes')), true,
  'locks are per job name');

-- Heartbeat -----------------------------------------------------------------------------------
select is(public.extend_job_lock('scheduled-sync', 'worker-a', interval '5 minutes', p_now => now() + interval '3 minutes'),
  true, 'the holder extends its lock');
select results_eq(
  $$ select expires_at = now() + interval '8 minutes', heartbeat_at = now() + interval '3 minutes'
     from public.system_job_locks where job_name = 'scheduled-sync' $$,
  $$ values (true, true) $$,
  'extend sets expires_at = p_now + ttl and heartbeat_at = p_now');
select is(
  (select heartbeat_at = now() + interval '3 minutes' from public.system_job_logs where id = '00000000-0000-0000-0000-00000000000a'),
  true, 'extend also renews the heartbeat of the lock''s run');
select is(public.extend_job_lock('scheduled-sync', 'worker-b', interval '5 minutes'), false,
  'a non-holder cannot extend');
select is((select locked_by from public.system_job_locks where job_name = 'scheduled-sync'), 'worker-a',
  'a refused extend changes nothing');

-- Release by a non-holder -------------------------------------------------------------------
select is(public.release_job_lock('scheduled-sync', 'worker-b'), false, 'a non-holder cannot release');
select results_eq(
  $$ select locked_by, released_at is null, expires_at = now() + interval '8 minutes'
     from public.system_job_locks where job_name = 'scheduled-sync' $$,
  $$ values ('worker-a', true, true) $$,
  'a refused release changes nothing');

-- Expiry and takeover (backdated instead of waiting) ----------------------------------------
update public.system_job_locks set expires_at = now() - interval '1 minute' where job_name = 'scheduled-sync';
select is(public.extend_job_lock('scheduled-sync', 'worker-a', interval '5 minutes'), false,
  'an expired lease cannot be extended: its holder must stop');
select results_eq(
  $$ select * from public.claim_job_lock('scheduled-sync', 'worker-b', interval '5 minutes',
       '00000000-0000-0000-0000-00000000000b') $$,
  $$ values (true, 'worker-a'::text, '00000000-0000-0000-0000-00000000000a'::uuid, true) $$,
  'an expired lock is taken over: took_over, with the dead holder''s run to resume');
select results_eq(
  $$ select locked_by, run_id, previous_locked_by, previous_run_id, taken_over
     from public.system_job_locks where job_name = 'scheduled-sync' $$,
  $$ values ('worker-b', '00000000-0000-0000-0000-00000000000b'::uuid, 'worker-a',
             '00000000-0000-0000-0000-00000000000a'::uuid, true) $$,
  'the row records the takeover');
select is(public.extend_job_lock('scheduled-sync', 'worker-a', interval '5 minutes'), false,
  'the old holder cannot extend after the takeover');
select is(public.release_job_lock('scheduled-sync', 'worker-a'), false,
  'the old holder cannot release after the takeover');

-- Release and a clean claim -----------------------------------------------------------------
select is(public.release_job_lock('scheduled-sync', 'worker-b'), true, 'the holder releases');
select results_eq(
  $$ select released_at = now(), expires_at <= now() from public.system_job_locks where job_name = 'scheduled-sync' $$,
  $$ values (true, true) $$,
  'release records released_at and ends the lease');
select is(public.release_job_lock('scheduled-sync', 'worker-b'), false, 'a second release returns false');
select results_eq(
  $$ select * from public.claim_job_lock('scheduled-sync', 'worker-c', interval '5 minutes') $$,
  $$ values (true, 'worker-b'::text, '00000000-0000-0000-0000-00000000000b'::uuid, false) $$,
  'a released lock is claimed at once, and that is not a takeover');
select is(
  (select count(*) from public.system_job_locks where job_name = 'scheduled-sync'), 1::bigint,
  'one row per job, whatever happened');

-- Arguments ---------------------------------------------------------------------------------
select throws_ok(
  $$ select * from public.claim_job_lock('scheduled-sync', 'worker-d', interval '0') $$,
  'TS210', 'p_ttl must be a positive interval: current value is 00:00:00',
  'a non-positive TTL is refused (TS210)');
select throws_ok(
  $$ select * from public.claim_job_lock('scheduled-sync', ' ', interval '1 minute') $$,
  'TS210', null, 'a blank holder is refused (TS210)');
select throws_ok(
  $$ select public.extend_job_lock('scheduled-sync', 'worker-c', interval '-1 minute') $$,
  'TS210', null, 'extend refuses a negative TTL (TS210)');
select throws_ok(
  $$ select * from public.claim_job_lock('Scheduled Sync', 'worker-d', interval '1 minute') $$,
  '23514', null, 'a job name must be lower-case letters, digits, - and _');

select * from finish();
rollback;
