-- Fewer round trips per account (20261201004000): the claim returns what the sync needs of the
-- account, and the finish writes the account's pending sync_logs rows with its outcome.
begin;
select plan(12);
set local client_min_messages = warning;

insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'one');
insert into public.workspace_threads_tokens (id, workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
values ('dddddddd-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001',
  'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now() + interval '30 days', true);
insert into public.system_job_logs (id, job_type, trigger, started_at, metadata) values
  ('eeeeeeee-0000-0000-0000-000000000001', 'manual_sync', 'manual', now() - interval '1 minute',
   '{"request": {"workspaceId": "11111111-1111-1111-1111-111111111111"}}'),
  ('eeeeeeee-0000-0000-0000-000000000002', 'manual_sync', 'manual', now() - interval '2 hours', '{}');
-- 30 calls an hour ago count toward the 24-hour budget; 500 two days ago do not.
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, completed_at, metadata)
values ('eeeeeeee-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_metrics', 'completed',
        now() - interval '1 hour', now() - interval '1 hour', '{"api_calls": 30}'),
       ('eeeeeeee-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed',
        now() - interval '2 days', now() - interval '2 days', '{"api_calls": 500}');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000001',
  p_workspace_id => '11111111-1111-1111-1111-111111111111'), 1, 'one account enqueued');

select is(public.account_api_calls_24h('aaaaaaaa-0000-0000-0000-000000000001'), 30,
  'account_api_calls_24h sums the api_calls of the last 24 hours only');

-- First attempt -----------------------------------------------------------------------------
create temporary table claimed on commit drop as
select * from public.claim_run_account_for_sync('eeeeeeee-0000-0000-0000-000000000001', 'w1', '5 minutes');
select results_eq(
  $$ select account_id, username, token_id, attempts, calls_24h, steps_done from claimed $$,
  $$ values ('aaaaaaaa-0000-0000-0000-000000000001'::uuid, 'one'::text,
       'dddddddd-0000-0000-0000-000000000001'::uuid, 1, 30, '{}'::text[]) $$,
  'the claim returns the account, its token, its 24-hour calls and no steps done');
select is((select run_started_at from claimed),
  (select started_at from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000001'),
  'and the run''s start');
select results_eq(
  $$ select status, claimed_by from public.sync_run_accounts
     where run_id = 'eeeeeeee-0000-0000-0000-000000000001' $$,
  $$ values ('in_progress'::text, 'w1'::text) $$,
  'the account is claimed as claim_next_run_account claims it');
select is_empty(
  $$ select * from public.claim_run_account_for_sync('eeeeeeee-0000-0000-0000-000000000001', 'w2', '5 minutes') $$,
  'no row when nothing is claimable');

-- A later attempt finds the steps an earlier one completed -----------------------------------
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, attempt, started_at)
values ('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'sync_posts', 'completed', 1, now());
update public.sync_run_accounts set lease_expires_at = now() - interval '1 second'
where run_id = 'eeeeeeee-0000-0000-0000-000000000001';
update public.account_sync_leases set expires_at = now() - interval '1 second'
where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001';
select results_eq(
  $$ select attempts, steps_done from public.claim_run_account_for_sync(
       'eeeeeeee-0000-0000-0000-000000000001', 'w3', '5 minutes') $$,
  $$ values (2, '{sync_posts}'::text[]) $$,
  'a second attempt is told which steps the first completed');

-- Finish with the pending rows ----------------------------------------------------------------
select is(public.finish_run_account_with_logs('eeeeeeee-0000-0000-0000-000000000001',
  'aaaaaaaa-0000-0000-0000-000000000001', 'w3', 'partial', 'rate_limited', 'slow down', null,
  jsonb_build_array(
    jsonb_build_object('job_type', 'sync_metrics', 'status', 'partial', 'attempt', 2,
      'started_at', '2026-01-01T10:00:00Z', 'completed_at', '2026-01-01T10:00:05Z',
      'items_processed', 7, 'error_code', 'rate_limited', 'error_message', 'slow down',
      'metadata', '{"api_calls": 9}'::jsonb),
    jsonb_build_object('job_type', 'sync_account_insights', 'status', 'skipped', 'attempt', 2,
      'started_at', '2026-01-01T10:00:05Z', 'error_code', 'rate_limited',
      'error_message', 'not attempted'))), true,
  'finish_run_account_with_logs answers as finish_run_account');
select results_eq(
  $$ select job_type, status, attempt, started_at, completed_at, items_processed, error_code, metadata
     from public.sync_logs
     where run_id = 'eeeeeeee-0000-0000-0000-000000000001' and attempt = 2 order by id $$,
  $$ values ('sync_metrics'::text, 'partial'::text, 2, '2026-01-01T10:00:00Z'::timestamptz,
             '2026-01-01T10:00:05Z'::timestamptz, 7, 'rate_limited'::text, '{"api_calls": 9}'::jsonb),
            ('sync_account_insights', 'skipped', 2, '2026-01-01T10:00:05Z', now(), 0, 'rate_limited',
             '{}') $$,
  'the pending rows are written in order, absent keys taking the column defaults');
select results_eq(
  $$ select status, last_error_code from public.sync_run_accounts
     where run_id = 'eeeeeeee-0000-0000-0000-000000000001' $$,
  $$ values ('partial'::text, 'rate_limited'::text) $$,
  'and the outcome is recorded');
select is(public.finish_run_account_with_logs('eeeeeeee-0000-0000-0000-000000000001',
  'aaaaaaaa-0000-0000-0000-000000000001', 'w3', 'completed', null, null, null, '[]'::jsonb), false,
  'a worker no longer holding the account records nothing');
select throws_ok(
  $$ select public.finish_run_account_with_logs('eeeeeeee-0000-0000-0000-000000000001',
       'aaaaaaaa-0000-0000-0000-000000000001', 'w3', 'done', null, null, null, null) $$,
  'TS213', null, 'an unknown outcome raises TS213, as finish_run_account does');

select * from finish();
rollback;
