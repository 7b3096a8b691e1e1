-- The freshness objective: sync_freshness after runs driven through the functions the sync
-- uses (enqueue, claim, finish), as an operator reads it.
begin;
select plan(9);
set local client_min_messages = warning;

-- Whatever else the database holds stays out of the overall row (rolled back at the end).
update public.workspace_threads_accounts set is_active = false, deactivated_at = now() where is_active;

-- Acme: alice, bob, carol, erin, dave (deactivated); Beta: frank.
insert into public.workspaces (id, name) values
  ('11111111-1111-1111-1111-111111111111', 'Acme'), ('22222222-2222-2222-2222-222222222222', 'Beta');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice'),
  ('aaaaaaaa-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', '1002', 'bob'),
  ('aaaaaaaa-0000-0000-0000-000000000003', '11111111-1111-1111-1111-111111111111', '1003', 'carol'),
  ('aaaaaaaa-0000-0000-0000-000000000004', '11111111-1111-1111-1111-111111111111', '1004', 'dave'),
  ('aaaaaaaa-0000-0000-0000-000000000005', '11111111-1111-1111-1111-111111111111', '1005', 'erin'),
  ('aaaaaaaa-0000-0000-0000-000000000006', '22222222-2222-2222-2222-222222222222', '1006', 'frank');
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
select a.id, 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now() + interval '30 days', true
from public.workspace_threads_accounts a where a.workspace_id in
  ('11111111-1111-1111-1111-111111111111', '22222222-2222-2222-2222-222222222222');

-- One finished run at p_at over the named accounts, each with the outcome given for it.
create function pg_temp.run(p_at timestamptz, p_outcomes jsonb) returns void
language plpgsql as $$
declare
  run uuid := gen_random_uuid();
  claimed uuid;
  outcome text;
begin
  insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at)
  values (run, 'manual_sync', 'manual', p_at, p_at);
  perform public.enqueue_run_accounts(run, array(
    select a.id from public.workspace_threads_accounts a where p_outcomes ? a.username), p_now => p_at);
  loop
    claimed := public.claim_next_run_account(run, 'worker', interval '5 minutes', p_at);
    exit when claimed is null;
    select p_outcomes ->> a.username into outcome from public.workspace_threads_accounts a where a.id = claimed;
    perform public.finish_run_account(run, claimed, 'worker', outcome,
      case when outcome <> 'completed' then 'transient' end,
      case when outcome <> 'completed' then 'Threads API answered 500' end,
      p_now => p_at);
  end loop;
  update public.system_job_logs set status = 'completed', completed_at = p_at,
    metadata = '{"total_accounts": 0, "success_count": 0, "error_count": 0, "skipped_count": 0}'
  where id = run;
end;
$$;

-- Two hours ago every Acme account but carol synced completely; frank had never been synced.
select pg_temp.run(now() - interval '2 hours', '{"alice": "completed", "bob": "completed", "dave": "completed", "erin": "completed", "carol": "failed"}');
select pg_temp.run(now() - interval '40 minutes', '{"erin": "completed"}');
-- Now: alice and frank complete; bob's sync is partial and carol's fails: neither is fresh.
select pg_temp.run(now() - interval '5 minutes', '{"alice": "completed", "frank": "completed", "bob": "partial", "carol": "failed"}');
update public.workspace_threads_accounts set is_active = false, deactivated_at = now() where username = 'dave';

select results_eq(
  $$ select scope, workspace_name, fresh_accounts, active_accounts, fresh_share, never_synced,
       oldest_complete_sync_age, target_minutes
     from public.sync_freshness $$,
  $$ values ('overall'::text, null::text, 2::bigint, 5::bigint, 0.4000::numeric, 1::bigint, interval '2 hours', 30),
            ('workspace', 'Acme', 1, 4, 0.2500, 1, interval '2 hours', 30),
            ('workspace', 'Beta', 1, 1, 1.0000, 0, interval '5 minutes', 30) $$,
  'overall row first, then per workspace: fresh/active, share, never synced, oldest complete sync age, target 30');
select is(
  (select oldest_complete_sync_at from public.sync_freshness where scope = 'overall'),
  now() - interval '2 hours',
  'the oldest last complete sync is bob''s: his partial sync did not move it');
select is(
  (select fresh_accounts from public.sync_freshness where workspace_name = 'Acme'),
  1::bigint,
  'a partial (bob) or failed (carol) sync never makes an account fresh; deactivated dave is not counted');

-- The target is the operator's setting.
update public.monitoring_settings set sync_freshness_target_minutes = 60;
select results_eq(
  $$ select fresh_accounts, fresh_share, target_minutes from public.sync_freshness where workspace_name = 'Acme' $$,
  $$ values (2::bigint, 0.5000::numeric, 60) $$,
  'with a 60-minute target erin (40 minutes ago) is fresh too');

select throws_ok(
  $$ insert into public.monitoring_settings (id) values (false) $$, '23514', null,
  'monitoring_settings keeps exactly one row');
select throws_ok(
  $$ update public.monitoring_settings set sync_freshness_target_minutes = 0 $$, '23514', null,
  'a target of 0 minutes is refused');

-- No active account at all: the overall row is still there, with no share to report.
update public.workspace_threads_accounts set is_active = false, deactivated_at = now() where is_active;
select results_eq(
  $$ select scope, fresh_accounts, active_accounts, fresh_share, oldest_complete_sync_at, target_minutes
     from public.sync_freshness $$,
  $$ values ('overall'::text, 0::bigint, 0::bigint, null::numeric, null::timestamptz, 60) $$,
  'without active accounts: one overall row, share NULL, the target still shown');

-- Operators only.
select ok(not has_table_privilege('anon', 'public.sync_freshness', 'SELECT')
  and not has_table_privilege('authenticated', 'public.sync_freshness', 'SELECT'),
  'the API roles cannot read sync_freshness');
select ok(not has_table_privilege('anon', 'public.monitoring_settings', 'SELECT')
  and not has_table_privilege('authenticated', 'public.monitoring_settings', 'UPDATE'),
  'the API roles cannot read or change monitoring_settings');

select * from finish();
rollback;
