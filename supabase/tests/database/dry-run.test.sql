-- Dry runs: eligible_sync_accounts picks what enqueue_run_accounts picks; begin_dry_run and
-- finish_dry_run record a dry run whose sync_logs rows count in the 24-hour call budget.
begin;
select plan(13);
set local client_min_messages = warning;

-- Fixture ------------------------------------------------------------------------------------
-- ok1 (synced 1 h ago), ok2 (never synced), inactive, paused, deferred (until in an hour),
-- deferral_over (deferred until a minute ago: eligible again), rejected (token rejected),
-- expired (token expired), revoked (token revoked).
insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username, is_active,
  deactivated_at, last_synced_at, sync_paused_at, sync_paused_reason, rate_limited_until)
select ('aaaaaaaa-0000-0000-0000-00000000000' || n)::uuid, '11111111-1111-1111-1111-111111111111',
  (1000 + n)::text, name, name <> 'inactive', case when name = 'inactive' then now() end,
  case when name = 'ok1' then now() - interval '1 hour' end,
  case when name = 'paused' then now() end, case when name = 'paused' then 'test' end,
  case name when 'deferred' then now() + interval '1 hour'
    when 'deferral_over' then now() - interval '1 minute' end
from unnest(array['ok1', 'ok2', 'inactive', 'paused', 'deferred', 'deferral_over', 'rejected',
  'expired', 'revoked']) with ordinality as t (name, n);
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted,
  issued_at, expires_at, is_primary, revoked_at, rejected_at, rejected_reason)
select a.id, 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now() - interval '2 days',
  case when a.username = 'expired' then now() - interval '1 minute' else now() + interval '30 days' end,
  true,
  case when a.username = 'revoked' then now() - interval '1 day' end,
  case when a.username = 'rejected' then now() end,
  case when a.username = 'rejected' then 'auth_expired: test' end
from public.workspace_threads_accounts a where a.workspace_id = '11111111-1111-1111-1111-111111111111';
insert into public.system_job_logs (id, job_type, trigger) values
  ('eeeeeeee-0000-0000-0000-000000000001', 'scheduled_sync', 'cron'),
  ('eeeeeeee-0000-0000-0000-000000000002', 'manual_sync', 'manual');

-- eligible_sync_accounts agrees with enqueue_run_accounts ------------------------------------
select results_eq(
  $$ select username from public.eligible_sync_accounts(p_workspace_id => '11111111-1111-1111-1111-111111111111') $$,
  $$ values ('ok2'::text), ('deferral_over'), ('ok1') $$,
  'eligible (this workspace): active, usable token, not paused or deferred; least recently synced first');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000001', p_workspace_id => '11111111-1111-1111-1111-111111111111'), 3, 'enqueue adds three');
select set_eq(
  $$ select e.id from public.eligible_sync_accounts(p_workspace_id => '11111111-1111-1111-1111-111111111111') e $$,
  $$ select ra.workspace_threads_account_id from public.sync_run_accounts ra
     where ra.run_id = 'eeeeeeee-0000-0000-0000-000000000001' $$,
  'the same accounts as enqueue_run_accounts');
select set_eq(
  $$ select e.username from public.eligible_sync_accounts(
       array(select id from public.workspace_threads_accounts where workspace_id = '11111111-1111-1111-1111-111111111111')) e $$,
  $$ values ('ok1'::text), ('ok2'), ('paused'), ('deferred'), ('deferral_over') $$,
  'named accounts: paused and deferred ones too, never inactive or token-less ones');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000002',
    array(select id from public.workspace_threads_accounts where workspace_id = '11111111-1111-1111-1111-111111111111')), 5,
  'enqueue_run_accounts takes the same five named accounts');
select is((select count(*)::int from public.eligible_sync_accounts(p_workspace_id => '11111111-1111-1111-1111-111111111111', p_limit => 2)), 2, 'p_limit caps');
select is((select count(*)::int from public.eligible_sync_accounts(
    p_workspace_id => '22222222-2222-2222-2222-222222222222')), 0, 'p_workspace_id narrows');

-- A dry run's record -------------------------------------------------------------------------
create temporary table dry (id uuid) on commit drop;
insert into dry select public.begin_dry_run('{"maxAccounts": 25}');
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at,
  error_code, error_message, metadata)
select d.id, a.id, 'dry_run', s.status, now(), s.code, s.message, s.metadata
from dry d
cross join (values
  ('ok1', 'completed', null, null, '{"api_calls": 7}'::jsonb),
  ('ok2', 'failed', 'token_unreadable', 'Account @ok2: cannot decrypt', '{"api_calls": 0}'::jsonb),
  ('deferral_over', 'partial', 'transient', 'step sync_metrics failed', '{"api_calls": 4}'::jsonb)
) as s (username, status, code, message, metadata)
join public.workspace_threads_accounts a on a.username = s.username and a.workspace_id = '11111111-1111-1111-1111-111111111111';
select is((select public.finish_dry_run(d.id, 2) from dry d), 'partial',
  'a dry run with failures or accounts not attempted ends partial');
select results_eq(
  $$ select j.job_type, j.status, (j.metadata ->> 'total_accounts')::int, (j.metadata ->> 'success_count')::int,
       (j.metadata ->> 'error_count')::int, (j.metadata ->> 'skipped_count')::int,
       (j.metadata ->> 'not_attempted')::int, (j.metadata ->> 'api_calls')::int, j.metadata -> 'scope'
     from public.system_job_logs j join dry d on d.id = j.id $$,
  $$ values ('dry_run'::text, 'partial'::text, 5, 1, 2, 2, 2, 11, '{"maxAccounts": 25}'::jsonb) $$,
  'counts and api_calls come from the dry run''s sync_logs rows');
select is((select public.finish_dry_run(d.id) from dry d), 'partial', 'finishing again changes nothing');
select is(
  (select sum((s.metadata ->> 'api_calls')::int)::int from public.sync_logs s
   where s.workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001'
     and s.completed_at > now() - interval '24 hours'),
  7, 'the 24-hour budget query sums the dry run''s calls');
select throws_ok($$ select public.finish_dry_run('eeeeeeee-0000-0000-0000-000000000001') $$,
  'TS211', null, 'finish_dry_run refuses a run that is not a dry run');
select throws_ok($$ select public.finish_dry_run(public.begin_dry_run(), -1) $$,
  'TS210', null, 'finish_dry_run refuses a negative count');

select * from finish();
rollback;
