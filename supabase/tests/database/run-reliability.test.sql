-- Run reliability (20261130001000): a lost worker's account fails after 3 claims instead of
-- being claimed for ever, accounts that left a run are skipped without touching their health,
-- only sync runs continue, a run's figures come from its sync_logs rows, and a page of posts
-- is written with its history cursor.
begin;
select plan(21);
set local client_min_messages = warning;

insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'slow'),
  ('aaaaaaaa-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', '1002', 'gone'),
  ('aaaaaaaa-0000-0000-0000-000000000003', '11111111-1111-1111-1111-111111111111', '1003', 'paused'),
  ('aaaaaaaa-0000-0000-0000-000000000004', '11111111-1111-1111-1111-111111111111', '1004', 'rejected'),
  ('aaaaaaaa-0000-0000-0000-000000000005', '11111111-1111-1111-1111-111111111111', '1005', 'fine');
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
select a.id, 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now() + interval '30 days', true
from public.workspace_threads_accounts a;
insert into public.system_job_logs (id, job_type, trigger, metadata) values
  ('eeeeeeee-0000-0000-0000-000000000001', 'manual_sync', 'manual',
   '{"request": {"workspaceId": "11111111-1111-1111-1111-111111111111"}}'),
  ('eeeeeeee-0000-0000-0000-000000000002', 'token_refresh', 'cron', '{}');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000001'), 5, 'five accounts enqueued');

-- Worker lost three times -------------------------------------------------------------------
-- Only "slow" is claimable at first (its claims happen 30, 20 and 10 minutes ago): the others
-- wait for a later attempt time.
update public.sync_run_accounts
set next_attempt_at = case when workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001'
  then now() - interval '1 hour' else now() + interval '1 hour' end
where run_id = 'eeeeeeee-0000-0000-0000-000000000001';
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w1', '1 minute', now() - interval '30 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000001'::uuid, 'first claim');
-- The worker wrote its posts step, then died in the metrics step.
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, attempt, started_at)
values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', 1, now() - interval '30 minutes');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w2', '1 minute', now() - interval '20 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000001'::uuid, 'its lease expired: claimed again (attempt 2)');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w3', '1 minute', now() - interval '10 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000001'::uuid, 'and again (attempt 3)');
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, attempt, started_at)
values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', 3, now() - interval '10 minutes');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w4', '1 minute', now()),
  null::uuid, 'lost a third time: not claimed a fourth time');
select results_eq(
  $$ select status, attempts, last_error_code from public.sync_run_accounts
     where run_id = 'eeeeeeee-0000-0000-0000-000000000001'
       and workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001' $$,
  $$ values ('failed'::text, 3, 'worker_lost'::text) $$,
  'the account ends failed with worker_lost');
select matches(
  (select last_error_message from public.sync_run_accounts
   where run_id = 'eeeeeeee-0000-0000-0000-000000000001'
     and workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001'),
  '^\[step sync_metrics, account @slow\] Gave up after the worker syncing it was lost 3 times',
  'the message names the step it was lost in and the account');
select results_eq(
  $$ select job_type, status, attempt, error_code from public.sync_logs
     where run_id = 'eeeeeeee-0000-0000-0000-000000000001' and status <> 'completed' $$,
  $$ values ('sync_metrics'::text, 'failed'::text, 3, 'worker_lost'::text) $$,
  'a failed sync_logs row for that step explains it at the console');

-- Accounts that left the run ----------------------------------------------------------------
update public.sync_run_accounts set next_attempt_at = now() - interval '1 second'
where run_id = 'eeeeeeee-0000-0000-0000-000000000001' and status = 'pending';
update public.workspace_threads_accounts set is_active = false, deactivated_at = now()
where id = 'aaaaaaaa-0000-0000-0000-000000000002';
update public.workspace_threads_accounts set sync_paused_at = now(), sync_paused_reason = 'test'
where id = 'aaaaaaaa-0000-0000-0000-000000000003';
update public.workspace_threads_tokens set rejected_at = now(), rejected_reason = 'auth_expired: test'
where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000004';
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w5', '1 minute'),
  'aaaaaaaa-0000-0000-0000-000000000005'::uuid, 'the claim passes over the three that left and takes the eligible one');
select results_eq(
  $$ select a.username, ra.status, ra.last_error_code from public.sync_run_accounts ra
     join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
     where ra.run_id = 'eeeeeeee-0000-0000-0000-000000000001' and a.username in ('gone', 'paused', 'rejected')
     order by a.username $$,
  $$ values ('gone'::text, 'skipped'::text, 'account_left_run'::text),
            ('paused', 'skipped', 'account_left_run'), ('rejected', 'skipped', 'account_left_run') $$,
  'deactivated, paused and token-rejected accounts are skipped with account_left_run');
select matches(
  (select last_error_message from public.sync_run_accounts
   where run_id = 'eeeeeeee-0000-0000-0000-000000000001'
     and workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000002'),
  'Account @gone left the run after it started \(the account was deactivated\)',
  'the message says why');
select is((select count(*)::int from public.sync_logs
  where workspace_threads_account_id in ('aaaaaaaa-0000-0000-0000-000000000002',
    'aaaaaaaa-0000-0000-0000-000000000003', 'aaaaaaaa-0000-0000-0000-000000000004')), 0,
  'no sync_logs row for them: their health is not touched');
select is((select consecutive_failures from public.account_sync_health
  where account_id = 'aaaaaaaa-0000-0000-0000-000000000003'), 0,
  'a skipped account gains no failure');

-- A run that named a paused account still syncs it ------------------------------------------
insert into public.system_job_logs (id, job_type, trigger, metadata) values
  ('eeeeeeee-0000-0000-0000-000000000003', 'manual_sync', 'manual',
   '{"request": {"accountIds": ["aaaaaaaa-0000-0000-0000-000000000003"]}}');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000003',
  array['aaaaaaaa-0000-0000-0000-000000000003']::uuid[]), 1, 'the paused account named explicitly is enqueued');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000003', 'w6', '1 minute'),
  'aaaaaaaa-0000-0000-0000-000000000003'::uuid, 'and claimed: naming it is the operator''s explicit request');

-- continue_sync_run refuses other job types -------------------------------------------------
select results_eq(
  $$ select outcome, job_type from public.continue_sync_run('eeeeeeee-0000-0000-0000-000000000002', '5 minutes') $$,
  $$ values ('wrong_job_type'::text, 'token_refresh'::text) $$,
  'a token refresh run is not continued by the sync');
select is((select invocations from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000002'), 1,
  'and is left untouched');

-- Figures from sync_logs --------------------------------------------------------------------
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, attempt, started_at, metadata)
values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000005', 'sync_posts', 'completed', 1, now(),
        '{"api_calls": 7, "api_retries": 1, "duration_ms": 40}'),
       ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000005', 'sync_metrics', 'completed', 1, now(),
        '{"api_calls": "bad", "duration_ms": 60}');
select public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000005', 'w5', 'completed');
select is(public.finish_sync_run('eeeeeeee-0000-0000-0000-000000000001'), 'partial', 'the run finishes partial');
select results_eq(
  $$ select (metadata ->> 'api_calls')::int, (metadata ->> 'api_retries')::int,
       (metadata ->> 'accounts_processed')::int, (metadata ->> 'sync_posts_ms')::int
     from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000001' $$,
  $$ values (7, 1, 2, 40) $$,
  'its figures are summed from its sync_logs rows (a non-number is ignored)');

-- record_posts_page -------------------------------------------------------------------------
select public.record_posts_page('aaaaaaaa-0000-0000-0000-000000000005',
  '[{"threads_post_id": "900", "published_at": "2026-11-01T00:00:00Z"}]', now(), true, 'cursor-2');
select results_eq(
  $$ select posts_history_cursor, posts_history_synced_at is null from public.workspace_threads_accounts
     where id = 'aaaaaaaa-0000-0000-0000-000000000005' $$,
  $$ values ('cursor-2'::text, true) $$,
  'a history page is written with the cursor of the next page');
select public.record_posts_page('aaaaaaaa-0000-0000-0000-000000000005',
  '[{"threads_post_id": "901", "published_at": "2026-10-01T00:00:00Z"}]', now(), true, null);
select results_eq(
  $$ select posts_history_cursor, posts_history_synced_at is not null,
       (select count(*)::int from public.workspace_threads_posts p where p.workspace_threads_account_id = a.id)
     from public.workspace_threads_accounts a where id = 'aaaaaaaa-0000-0000-0000-000000000005' $$,
  $$ values (null::text, true, 2) $$,
  'the last page marks the history read and clears the cursor');

select * from finish();
rollback;
