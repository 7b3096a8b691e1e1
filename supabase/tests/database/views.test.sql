-- Console views after a known sequence of runs, driven through the same functions the sync
-- uses (enqueue, claim, finish), as a person would read them.
begin;
select plan(12);
set local client_min_messages = warning;

-- Fixture: Acme with alice, bob, carol (valid tokens) and dave (token expired: never synced).
insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice'),
  ('aaaaaaaa-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', '1002', 'bob'),
  ('aaaaaaaa-0000-0000-0000-000000000003', '11111111-1111-1111-1111-111111111111', '1003', 'carol'),
  ('aaaaaaaa-0000-0000-0000-000000000004', '11111111-1111-1111-1111-111111111111', '1004', 'dave');
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
select a.id, 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB',
  case when a.username = 'dave' then now() - interval '1 day' else now() + interval '30 days' end, true
from public.workspace_threads_accounts a;

-- One finished scheduled run at p_at: every eligible account claimed and finished with the
-- outcome given for its username, a sync_logs row per account, the run closed with counts.
create function pg_temp.simulate_run(p_run uuid, p_at timestamptz, p_outcomes jsonb) returns void
language plpgsql as $$
declare
  claimed uuid;
  who text;
  outcome text;
  progress record;
begin
  insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at)
  values (p_run, 'scheduled_sync', 'cron', p_at, p_at);
  perform public.enqueue_run_accounts(p_run, p_now => p_at);
  loop
    claimed := public.claim_next_run_account(p_run, 'worker', interval '5 minutes', p_at);
    exit when claimed is null;
    select username into who from public.workspace_threads_accounts where id = claimed;
    outcome := p_outcomes ->> who;
    insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at,
        completed_at, items_processed, error_code, error_message)
    values (p_run, claimed, 'sync_metrics', outcome, p_at, p_at + interval '1 minute', 10,
      case when outcome <> 'completed' then 'api_error' end,
      case when outcome <> 'completed' then format('Threads API 500 on GET /insights for @%s at %s', who, p_at) end);
    perform public.finish_run_account(p_run, claimed, 'worker', outcome,
      case when outcome <> 'completed' then 'api_error' end,
      case when outcome <> 'completed' then format('sync_metrics failed for @%s', who) end,
      p_now => p_at + interval '1 minute');
  end loop;
  select * into progress from public.run_progress(p_run);
  update public.system_job_logs
  set status = case when progress.completed = progress.total then 'completed'
                    when progress.completed + progress.partial > 0 then 'partial' else 'failed' end,
      completed_at = p_at + interval '2 minutes',
      error_message = case when progress.completed + progress.partial = 0 then 'every account failed' end,
      metadata = jsonb_build_object('total_accounts', progress.total, 'success_count', progress.completed,
        'error_count', progress.partial + progress.failed, 'skipped_count', progress.skipped, 'api_calls', 12)
  where id = p_run;
end;
$$;

do $$ begin perform pg_temp.simulate_run('eeeeeeee-0000-0000-0000-000000000001', now() - interval '60 minutes',
  '{"alice": "completed", "bob": "failed", "carol": "completed"}'); end $$;
do $$ begin perform pg_temp.simulate_run('eeeeeeee-0000-0000-0000-000000000002', now() - interval '45 minutes',
  '{"alice": "completed", "bob": "failed", "carol": "partial"}'); end $$;
do $$ begin perform pg_temp.simulate_run('eeeeeeee-0000-0000-0000-000000000003', now() - interval '30 minutes',
  '{"alice": "completed", "bob": "failed", "carol": "skipped"}'); end $$;
do $$ begin perform pg_temp.simulate_run('eeeeeeee-0000-0000-0000-000000000004', now() - interval '15 minutes',
  '{"alice": "completed", "bob": "failed", "carol": "failed"}'); end $$;
-- A run that found the lock held, and one still running (one account in progress, two pending).
insert into public.system_job_logs (id, job_type, trigger, status, started_at, completed_at, metadata) values
  ('eeeeeeee-0000-0000-0000-000000000005', 'scheduled_sync', 'cron', 'skipped', now() - interval '10 minutes',
   now() - interval '10 minutes', '{"total_accounts": 0, "success_count": 0, "error_count": 0, "skipped_count": 0, "reason": "lock_held"}');
insert into public.system_job_logs (id, job_type, trigger, started_at) values
  ('eeeeeeee-0000-0000-0000-000000000006', 'manual_sync', 'manual', now() - interval '5 minutes');
do $$ begin perform public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000006', p_now => now() - interval '5 minutes'); end $$;
do $$ begin perform public.claim_next_run_account('eeeeeeee-0000-0000-0000-000000000006', 'worker', interval '5 minutes', now() - interval '5 minutes'); end $$;

-- sync_run_overview ---------------------------------------------------------------------------
select results_eq(
  $$ select id, status from public.sync_run_overview $$,
  $$ values ('eeeeeeee-0000-0000-0000-000000000006'::uuid, 'running'), ('eeeeeeee-0000-0000-0000-000000000005'::uuid, 'skipped'),
            ('eeeeeeee-0000-0000-0000-000000000004'::uuid, 'partial'), ('eeeeeeee-0000-0000-0000-000000000003'::uuid, 'partial'),
            ('eeeeeeee-0000-0000-0000-000000000002'::uuid, 'partial'), ('eeeeeeee-0000-0000-0000-000000000001'::uuid, 'partial') $$,
  'sync_run_overview lists the runs newest first with their status');
select results_eq(
  $$ select job_type, trigger, duration, accounts_total, accounts_ok, accounts_partial, accounts_failed,
       accounts_skipped, accounts_unfinished, invocations, api_calls
     from public.sync_run_overview where id = 'eeeeeeee-0000-0000-0000-000000000002' $$,
  $$ values ('scheduled_sync', 'cron', interval '2 minutes', 3::bigint, 1::bigint, 1::bigint, 1::bigint,
             0::bigint, 0::bigint, 1, 12::bigint) $$,
  'a finished run: duration, per-outcome account counts, invocations and API calls');
select results_eq(
  $$ select duration, accounts_total, accounts_ok, accounts_partial, accounts_failed, accounts_skipped
     from public.sync_run_overview where id = 'eeeeeeee-0000-0000-0000-000000000005' $$,
  $$ values (interval '0', 0::bigint, 0::bigint, null::bigint, 0::bigint, 0::bigint) $$,
  'a skipped run (no tracked accounts) shows the counts from its metadata');
select results_eq(
  $$ select completed_at is null, duration, accounts_total, accounts_ok, accounts_unfinished
     from public.sync_run_overview where id = 'eeeeeeee-0000-0000-0000-000000000006' $$,
  $$ values (true, interval '5 minutes', 3::bigint, 0::bigint, 3::bigint) $$,
  'a running run shows its age so far and its live progress');

-- account_sync_health ----------------------------------------------------------------------------
select results_eq(
  $$ select username, last_success_at = now() - interval '14 minutes', minutes_since_last_success,
       consecutive_failures, last_error_code
     from public.account_sync_health where username = 'alice' $$,
  $$ values ('alice'::text, true, 14, 0, null::text) $$,
  'alice: fresh (last success 14 minutes ago), no failures, no error');
select results_eq(
  $$ select last_success_at, minutes_since_last_success, consecutive_failures, last_error_step, last_error_code,
       last_error_message, last_error_at = now() - interval '14 minutes'
     from public.account_sync_health where username = 'bob' $$,
  $$ values (null::timestamptz, null::integer, 4, 'sync_metrics', 'api_error',
             format('Threads API 500 on GET /insights for @bob at %s', now() - interval '15 minutes'), true) $$,
  'bob: never succeeded, 4 failures in a row, the last error with its step, code and message');
select results_eq(
  $$ select last_success_at = now() - interval '59 minutes', minutes_since_last_success, consecutive_failures
     from public.account_sync_health where username = 'carol' $$,
  $$ values (true, 59, 2) $$,
  'carol: a partial sync is not a success; partial and failed count, skipped neither counts nor resets');
select results_eq(
  $$ select workspace_name, is_active, last_success_at, consecutive_failures, last_error_code
     from public.account_sync_health where username = 'dave' $$,
  $$ values ('Acme'::text, true, null::timestamptz, 0, null::text) $$,
  'dave (never eligible): listed, never synced, no failures');
select results_eq(
  $$ select username from public.account_sync_health $$,
  $$ values ('bob'::text), ('dave'), ('carol'), ('alice') $$,
  'account_sync_health lists the stalest accounts first (never synced first)');

-- accounts_failing_repeatedly ------------------------------------------------------------------------
select results_eq(
  $$ select username, consecutive_failures from public.accounts_failing_repeatedly $$,
  $$ values ('bob'::text, 4) $$,
  'accounts_failing_repeatedly: only bob (3 or more failures in a row)');
update public.workspace_threads_accounts set is_active = false, deactivated_at = now() where username = 'bob';
select is_empty(
  $$ select * from public.accounts_failing_repeatedly $$,
  'a deactivated account no longer needs attention');

-- One more failure for carol makes her a repeat offender.
do $$ begin perform pg_temp.simulate_run('eeeeeeee-0000-0000-0000-000000000007', now() - interval '3 minutes',
  '{"alice": "completed", "carol": "failed"}'); end $$;
select results_eq(
  $$ select username, consecutive_failures from public.accounts_failing_repeatedly $$,
  $$ values ('carol'::text, 3) $$,
  'carol appears after her third failed or partial run since her last success');

select * from finish();
rollback;
