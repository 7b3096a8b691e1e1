-- Per-run progress and account leases: enqueue, claim, finish, retry, heartbeat, dead workers,
-- cross-run exclusion, stale runs.
begin;
select plan(52);
set local client_min_messages = warning;

-- Fixture ------------------------------------------------------------------------------------
-- W1: a1 (synced 1 h ago), a2 (synced 2 h ago), a3 token expired, a4 inactive, a5 token
-- revoked, a6 only a non-primary token. W2: a7 (never synced). Eligible: a7, a2, a1 (least
-- recently synced first). Runs e1..e4 are running, e9 is finished.
insert into public.workspaces (id, name) values
  ('11111111-1111-1111-1111-111111111111', 'Acme'),
  ('22222222-2222-2222-2222-222222222222', 'Globex');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username, is_active, deactivated_at, last_synced_at) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'a1', true, null, now() - interval '1 hour'),
  ('aaaaaaaa-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', '1002', 'a2', true, null, now() - interval '2 hours'),
  ('aaaaaaaa-0000-0000-0000-000000000003', '11111111-1111-1111-1111-111111111111', '1003', 'a3', true, null, null),
  ('aaaaaaaa-0000-0000-0000-000000000004', '11111111-1111-1111-1111-111111111111', '1004', 'a4', false, now(), null),
  ('aaaaaaaa-0000-0000-0000-000000000005', '11111111-1111-1111-1111-111111111111', '1005', 'a5', true, null, null),
  ('aaaaaaaa-0000-0000-0000-000000000006', '11111111-1111-1111-1111-111111111111', '1006', 'a6', true, null, null),
  ('aaaaaaaa-0000-0000-0000-000000000007', '22222222-2222-2222-2222-222222222222', '1007', 'a7', true, null, null);
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary, revoked_at)
select a.id, 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB',
  case when a.username = 'a3' then now() - interval '1 minute' else now() + interval '30 days' end,
  a.username <> 'a6',
  case when a.username = 'a5' then now() - interval '1 day' end
from public.workspace_threads_accounts a;
insert into public.system_job_logs (id, job_type, trigger) values
  ('eeeeeeee-0000-0000-0000-000000000001', 'scheduled_sync', 'cron'),
  ('eeeeeeee-0000-0000-0000-000000000002', 'manual_sync', 'manual'),
  ('eeeeeeee-0000-0000-0000-000000000003', 'manual_sync', 'manual'),
  ('eeeeeeee-0000-0000-0000-000000000004', 'manual_sync', 'manual');
insert into public.system_job_logs (id, job_type, trigger, status, completed_at, metadata) values
  ('eeeeeeee-0000-0000-0000-000000000009', 'scheduled_sync', 'cron', 'completed', now(),
   '{"total_accounts": 0, "success_count": 0, "error_count": 0, "skipped_count": 0}');

-- Enqueue ------------------------------------------------------------------------------------
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000001'), 3,
  'enqueue adds the eligible accounts only (active, primary unrevoked unexpired token)');
select results_eq(
  $$ select a.username, ra.position, ra.status, ra.attempts from public.sync_run_accounts ra
     join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
     where ra.run_id = 'eeeeeeee-0000-0000-0000-000000000001' order by ra.position $$,
  $$ values ('a7', 1, 'pending', 0), ('a2', 2, 'pending', 0), ('a1', 3, 'pending', 0) $$,
  'pending rows, least recently synced first');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000001'), 0,
  'enqueue is idempotent: a second call adds nothing');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000003', p_limit => 2), 2,
  'p_limit caps the run''s accounts');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000003', p_limit => 2), 0,
  'p_limit counts the accounts already in the run (idempotent with a limit)');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000003', p_limit => 3), 1,
  'a higher limit adds the rest');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000004',
    p_account_ids => array['aaaaaaaa-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000003',
      'aaaaaaaa-0000-0000-0000-000000000004', 'aaaaaaaa-0000-0000-0000-000000000005',
      'aaaaaaaa-0000-0000-0000-000000000006', 'aaaaaaaa-0000-0000-0000-0000000000ff']::uuid[]), 1,
  'named accounts: only the eligible ones are enqueued');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000002',
    p_workspace_id => '22222222-2222-2222-2222-222222222222'), 1,
  'a workspace restricts the run to its accounts');
select throws_ok(
  $$ select public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000009') $$,
  'TS212', 'Cannot enqueue accounts as run eeeeeeee-0000-0000-0000-000000000009 is not running: current status is completed',
  'enqueue into a finished run is refused (TS212)');
select throws_ok(
  $$ select public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-0000000000ff') $$,
  'TS211', 'Cannot enqueue accounts as run eeeeeeee-0000-0000-0000-0000000000ff does not exist',
  'enqueue into an unknown run is refused (TS211)');
select throws_ok(
  $$ select public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000001', p_limit => -1) $$,
  'TS210', null, 'a negative limit is refused (TS210)');

-- Claims: order, two workers, cross-run leases -------------------------------------------------
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w1', interval '5 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000007'::uuid, 'the first claim takes the first account in order');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w2', interval '5 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000002'::uuid, 'a second worker gets the next account, never the same one');
select results_eq(
  $$ select status, attempts, claimed_by, lease_expires_at = now() + interval '5 minutes', started_at = now()
     from public.sync_run_accounts
     where run_id = 'eeeeeeee-0000-0000-0000-000000000001' and workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000007' $$,
  $$ values ('in_progress', 1, 'w1', true, true) $$,
  'a claimed account is in_progress, attempts 1, leased to its worker');
select results_eq(
  $$ select holder, run_id, expires_at = now() + interval '5 minutes' from public.account_sync_leases
     where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000007' $$,
  $$ values ('w1', 'eeeeeeee-0000-0000-0000-000000000001'::uuid, true) $$,
  'the claim took the cross-run account lease in the same transaction');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000002', 'm1', interval '5 minutes'),
  null::uuid, 'another run cannot claim an account leased by a live worker (a manual sync during a scheduled run)');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000003', 'm1', interval '5 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000001'::uuid, 'another run skips the leased accounts and takes a free one');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w1', interval '5 minutes'),
  null::uuid, 'NULL when every remaining account is leased elsewhere');
select results_eq(
  $$ select * from public.run_progress('eeeeeeee-0000-0000-0000-000000000001') $$,
  $$ values (3, 1, 2, 0, 0, 0, 0, now()) $$,
  'run_progress: 3 total, 1 pending, 2 in progress');
select is(public.finish_run_account('eeeeeeee-0000-0000-0000-000000000003', 'aaaaaaaa-0000-0000-0000-000000000001', 'm1', 'completed'),
  true, 'the other run finishes its account ...');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w1', interval '5 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000001'::uuid, '... and its lease is released: this run can claim it now');

-- Finish -------------------------------------------------------------------------------------
select is(public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000007', 'w2', 'completed'),
  false, 'only the worker holding the account can finish it');
select is(public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000007', 'w1', 'completed'),
  true, 'the holder finishes it');
select results_eq(
  $$ select ra.status, ra.finished_at = now(), ra.lease_expires_at is null,
       (select count(*) from public.account_sync_leases l where l.workspace_threads_account_id = ra.workspace_threads_account_id),
       (select last_synced_at = now() from public.workspace_threads_accounts a where a.id = ra.workspace_threads_account_id)
     from public.sync_run_accounts ra
     where ra.run_id = 'eeeeeeee-0000-0000-0000-000000000001' and ra.workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000007' $$,
  $$ values ('completed', true, true, 0::bigint, true) $$,
  'completed: finished_at set, account lease released, account last_synced_at moved');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000002', 'm1', interval '5 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000007'::uuid, 'once released, the other run can claim the account');

-- Retry later in the same run ----------------------------------------------------------------
select is(public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000002', 'w2',
    'failed', 'rate_limited', 'Threads API rate limit (code 4) for @a2 on GET /threads; retrying after the cool-down',
    p_retry_at => now() + interval '2 minutes'),
  true, 'a rate-limited account is handed back with a retry time');
select results_eq(
  $$ select status, next_attempt_at = now() + interval '2 minutes', finished_at is null, last_error_code,
       (select count(*) from public.account_sync_leases l where l.workspace_threads_account_id = ra.workspace_threads_account_id)
     from public.sync_run_accounts ra
     where run_id = 'eeeeeeee-0000-0000-0000-000000000001' and workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000002' $$,
  $$ values ('pending', true, true, 'rate_limited', 0::bigint) $$,
  'p_retry_at: back to pending until then, reason kept, lease released');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w2', interval '5 minutes'),
  null::uuid, 'a retry is not claimable before its time');
select is((select next_attempt_at = now() + interval '2 minutes' from public.run_progress('eeeeeeee-0000-0000-0000-000000000001')),
  true, 'run_progress says when the next retry is due');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w2', interval '5 minutes', now() + interval '3 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000002'::uuid, 'the retry is claimed once due');
select is((select attempts from public.sync_run_accounts
    where run_id = 'eeeeeeee-0000-0000-0000-000000000001' and workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000002'),
  2, 'the second claim counts as attempt 2');

-- A dead worker's account is reclaimed after its lease expires --------------------------------
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w3', interval '5 minutes', now() + interval '4 minutes'),
  null::uuid, 'a live lease is not reclaimed');
select is(public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000001', 'w3', interval '5 minutes', now() + interval '6 minutes'),
  'aaaaaaaa-0000-0000-0000-000000000001'::uuid, 'an in_progress account whose lease expired (dead worker) is reclaimed');
select results_eq(
  $$ select claimed_by, attempts from public.sync_run_accounts
     where run_id = 'eeeeeeee-0000-0000-0000-000000000001' and workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001' $$,
  $$ values ('w3', 2) $$,
  'the reclaim belongs to the new worker, attempt 2');
select is(public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'w1', 'completed'),
  false, 'the worker that lost the account cannot finish it');

-- Heartbeat ------------------------------------------------------------------------------------
select is(public.extend_run_account_leases('eeeeeeee-0000-0000-0000-000000000001', 'w3', interval '5 minutes', now() + interval '7 minutes'),
  1, 'a worker renews the leases of the accounts it holds');
select results_eq(
  $$ select ra.lease_expires_at = now() + interval '12 minutes', l.expires_at = now() + interval '12 minutes'
     from public.sync_run_accounts ra join public.account_sync_leases l using (workspace_threads_account_id)
     where ra.run_id = 'eeeeeeee-0000-0000-0000-000000000001' and ra.claimed_by = 'w3' $$,
  $$ values (true, true) $$,
  'both the run-row lease and the account lease are renewed');
select is(public.extend_run_account_leases('eeeeeeee-0000-0000-0000-000000000001', 'w1', interval '5 minutes', now() + interval '7 minutes'),
  0, 'a worker that holds nothing renews nothing');
select is(public.extend_run_account_leases('eeeeeeee-0000-0000-0000-000000000001', 'w2', interval '5 minutes', now() + interval '9 minutes'),
  0, 'an expired lease is not renewed (it may be someone else''s already)');

-- Outcomes -------------------------------------------------------------------------------------
select throws_ok(
  $$ select public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'w3', 'done') $$,
  'TS213', 'p_status must be one of completed, partial, failed, skipped: current value is ''done''',
  'an unknown outcome is refused (TS213)');
select throws_ok(
  $$ select public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'w3', 'failed') $$,
  'TS213', 'Cannot record outcome failed without a non-empty p_error_code and p_error_message',
  'a failure without a reason is refused (TS213)');
select is(public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'w3',
    'partial', 'insights_failed', 'sync_account_insights failed for @a1: Threads API 500 on GET /threads_insights', p_now => now() + interval '8 minutes'),
  true, 'a partial outcome with its reason');
select is((select last_synced_at = now() from public.workspace_threads_accounts where username = 'a1'),
  true, 'a partial sync does not move last_synced_at');
-- w2's lease on a2 expired at +8 min; nobody reclaimed it, so w2 still holds the row and may finish.
select is(public.finish_run_account('eeeeeeee-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000002', 'w2',
    'completed', p_now => now() + interval '9 minutes'),
  true, 'a worker whose lease lapsed but was not reclaimed can still finish');
select results_eq(
  $$ select * from public.run_progress('eeeeeeee-0000-0000-0000-000000000001') $$,
  $$ values (3, 0, 0, 2, 1, 0, 0, null::timestamptz) $$,
  'run_progress: done (2 completed, 1 partial, nothing pending)');
select is(
  (select heartbeat_at = now() + interval '9 minutes' from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000001'),
  true, 'claims and finishes renew the run''s heartbeat');

-- Dead runs ------------------------------------------------------------------------------------
-- e5: running, silent for 2 h, nothing live: a1 completed, a2 in_progress (dead worker), a7 pending.
-- e6: silent for 2 h but its job lock is live. e7: silent, no accounts, no counts.
insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at) values
  ('eeeeeeee-0000-0000-0000-000000000005', 'scheduled_sync', 'cron', now() - interval '3 hours', now() - interval '2 hours'),
  ('eeeeeeee-0000-0000-0000-000000000006', 'scheduled_sync', 'cron', now() - interval '3 hours', now() - interval '2 hours'),
  ('eeeeeeee-0000-0000-0000-000000000007', 'manual_sync', 'manual', now() - interval '3 hours', now() - interval '2 hours');
insert into public.sync_run_accounts (run_id, workspace_threads_account_id, position, status, attempts, claimed_by,
    lease_expires_at, next_attempt_at, enqueued_at, started_at, finished_at) values
  ('eeeeeeee-0000-0000-0000-000000000005', 'aaaaaaaa-0000-0000-0000-000000000001', 1, 'completed', 1, 'wx', null, now() - interval '3 hours', now() - interval '3 hours', now() - interval '3 hours', now() - interval '170 minutes'),
  ('eeeeeeee-0000-0000-0000-000000000005', 'aaaaaaaa-0000-0000-0000-000000000002', 2, 'in_progress', 1, 'wx', now() - interval '115 minutes', now() - interval '3 hours', now() - interval '3 hours', now() - interval '2 hours', null),
  ('eeeeeeee-0000-0000-0000-000000000005', 'aaaaaaaa-0000-0000-0000-000000000007', 3, 'pending', 0, null, null, now() - interval '3 hours', now() - interval '3 hours', null, null);
do $$ begin
  perform public.claim_job_lock('dead-run-test', 'wy', interval '5 minutes', 'eeeeeeee-0000-0000-0000-000000000006');
end $$;
select results_eq(
  $$ select run_id, unfinished_accounts from public.find_stale_runs(interval '30 minutes') order by run_id $$,
  $$ values ('eeeeeeee-0000-0000-0000-000000000005'::uuid, 2), ('eeeeeeee-0000-0000-0000-000000000007'::uuid, 0) $$,
  'find_stale_runs: running, silent, no live lock or lease (e6 has a live lock; e1-e4 are recent)');
select is(public.close_stale_job_logs(interval '30 minutes'), 2, 'close_stale_job_logs closes both');
select results_eq(
  $$ select status, error_code, metadata @> '{"total_accounts": 3, "success_count": 1, "error_count": 1, "skipped_count": 1, "interrupted": true}',
       completed_at = now()
     from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000005' $$,
  $$ values ('partial', 'worker_lost', true, true) $$,
  'a closed run with a completed account is partial, with final counts and the interruption recorded');
select results_eq(
  $$ select a.username, ra.status, ra.last_error_code from public.sync_run_accounts ra
     join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
     where ra.run_id = 'eeeeeeee-0000-0000-0000-000000000005' order by ra.position $$,
  $$ values ('a1', 'completed', null), ('a2', 'failed', 'worker_lost'), ('a7', 'skipped', 'run_abandoned') $$,
  'its interrupted account failed (worker_lost), its pending one skipped (run_abandoned)');
select results_eq(
  $$ select status, metadata @> '{"total_accounts": 0, "success_count": 0, "error_count": 0, "skipped_count": 0}'
     from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000007' $$,
  $$ values ('failed', true) $$,
  'a closed run with nothing done is failed, with zero counts');
select is(public.close_stale_job_logs(interval '30 minutes'), 0, 'closing again finds nothing');

select * from finish();
rollback;
