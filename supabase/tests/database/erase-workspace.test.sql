-- Deleting history: refused by default (restrict + immutable snapshots); erase_workspace is
-- the one deliberate path, and it touches nothing outside the workspace.
begin;
select plan(12);
set local client_min_messages = warning;

-- Two workspaces with the same shape of data: an account, a token, a post with two captures,
-- two insight captures, a run with a step log, progress and a lease.
insert into public.workspaces (id, name) values
  ('11111111-1111-1111-1111-111111111111', 'Acme'),
  ('22222222-2222-2222-2222-222222222222', 'Globex');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice'),
  ('aaaaaaaa-0000-0000-0000-000000000002', '22222222-2222-2222-2222-222222222222', '1002', 'bob');
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
select id, 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now() + interval '30 days', true
from public.workspace_threads_accounts;
insert into public.system_job_logs (id, job_type, trigger) values ('eeeeeeee-0000-0000-0000-000000000001', 'scheduled_sync', 'cron');
-- A second account of Acme whose username has a regex metacharacter, and two finished runs
-- whose texts name accounts the way the circuit breaker does.
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000003', '11111111-1111-1111-1111-111111111111', '1003', 'a.lee');
insert into public.system_job_logs (id, job_type, trigger, status, completed_at, metadata, error_code, error_message) values
  ('eeeeeeee-0000-0000-0000-000000000002', 'scheduled_sync', 'cron', 'failed', now(),
   '{"total_accounts": 3, "success_count": 0, "error_count": 3, "skipped_count": 0, "last_failed": "@a.lee", "others": ["@alice_b", "@axlee"]}',
   'api_unavailable',
   'Stopped calling the Threads API after 3 account(s) in a row failed for API reasons; last: transient: [step sync_posts, account @alice] HTTP 500 (after @bob and @alice_b, @a.lee; @axlee)'),
  ('eeeeeeee-0000-0000-0000-000000000003', 'scheduled_sync', 'cron', 'failed', now(),
   '{"total_accounts": 1, "success_count": 0, "error_count": 1, "skipped_count": 0}',
   'api_unavailable', 'last: transient: [step sync_posts, account @bob] HTTP 500');
do $$
declare
  acc uuid;
begin
  foreach acc in array array['aaaaaaaa-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000002']::uuid[] loop
    perform public.upsert_posts(acc, '[{"threads_post_id": "1"}]', now() - interval '1 hour');
    perform public.record_post_metrics(acc, now() - interval '30 minutes', '[{"threads_post_id": "1", "views": 1}]');
    perform public.record_post_metrics(acc, now() - interval '15 minutes', '[{"threads_post_id": "1", "views": 2}]');
    perform public.record_account_insights(acc, now() - interval '30 minutes', '{"followers_count": 1}');
    perform public.record_account_insights(acc, now() - interval '15 minutes', '{"followers_count": 2}');
    insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at)
      values ('eeeeeeee-0000-0000-0000-000000000001', acc, 'sync_posts', 'completed', now());
  end loop;
  perform public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000001');
  perform public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w', interval '5 minutes');
  perform public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w', interval '5 minutes');
end
$$;

select throws_ok($$ delete from public.workspaces where id = '11111111-1111-1111-1111-111111111111' $$,
  '23503', null, 'a plain delete of a workspace with accounts is refused');
select throws_ok($$ delete from public.workspace_threads_accounts where id = 'aaaaaaaa-0000-0000-0000-000000000001' $$,
  '23503', null, 'a plain delete of an account with history is refused (deactivate it instead)');

select is(public.erase_workspace('11111111-1111-1111-1111-111111111111'),
  '{"workspaces": 1, "workspace_threads_accounts": 2, "workspace_threads_tokens": 1, "workspace_threads_posts": 1,
    "workspace_threads_post_metrics": 2, "workspace_threads_post_metrics_deltas": 2,
    "workspace_threads_account_insights": 2, "workspace_threads_account_insights_deltas": 2,
    "sync_logs": 1, "sync_run_accounts": 1, "account_sync_leases": 1, "system_job_logs_redacted": 1}'::jsonb,
  'erase_workspace deletes everything under the workspace and says how much');
select is((select count(*) from public.workspace_threads_accounts where workspace_id = '11111111-1111-1111-1111-111111111111'),
  0::bigint, 'the workspace''s accounts are gone');
select results_eq(
  $$ select (select count(*) from public.workspaces), (select count(*) from public.workspace_threads_post_metrics),
       (select count(*) from public.workspace_threads_account_insights_deltas), (select count(*) from public.sync_logs),
       (select count(*) from public.sync_run_accounts), (select count(*) from public.account_sync_leases) $$,
  $$ values (1::bigint, 2::bigint, 2::bigint, 1::bigint, 1::bigint, 1::bigint) $$,
  'the other workspace''s data is untouched');
select is((select count(*) from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000001'), 1::bigint,
  'runs are kept (they span workspaces)');
select results_eq(
  $$ select error_message, metadata ->> 'last_failed', metadata -> 'others' from public.system_job_logs
     where id = 'eeeeeeee-0000-0000-0000-000000000002' $$,
  $$ values ('Stopped calling the Threads API after 3 account(s) in a row failed for API reasons; last: transient: [step sync_posts, account @[erased]] HTTP 500 (after @bob and @alice_b, @[erased]; @axlee)',
             '@[erased]', '["@alice_b", "@axlee"]'::jsonb) $$,
  'the erased accounts'' usernames are gone from the run''s error message and metadata; other accounts'' (@bob, @alice_b, @axlee) stay');
select is((select error_message from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000003'),
  'last: transient: [step sync_posts, account @bob] HTTP 500', 'a run that named no erased account is untouched');
select throws_ok($$ delete from public.workspace_threads_post_metrics $$, 'TS201', null,
  'after the erasure the guard is back on in the same transaction');
select throws_ok($$ select public.erase_workspace('11111111-1111-1111-1111-111111111111') $$,
  'TS206', 'Cannot erase workspace 11111111-1111-1111-1111-111111111111 as it does not exist',
  'erasing an unknown workspace is refused (TS206)');
select throws_ok(
  $$ select public.erase_workspace('22222222-2222-2222-2222-222222222222'); select 1 / 0 $$,
  '22012', null, 'an erasure rolls back with its transaction ...');
select is((select count(*) from public.workspace_threads_post_metrics), 2::bigint,
  '... leaving the other workspace''s snapshots in place');
select * from finish();
rollback;
