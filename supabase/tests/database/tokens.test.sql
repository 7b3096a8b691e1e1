-- Tokens: storing a primary token (one transaction, never two primaries), connecting and
-- deactivating accounts, rejected tokens (skipped by the sync and by token refresh), the
-- token-refresh run control and lock, the account_token_health view, the daily cron job and
-- who may call what.
begin;
select plan(69);
set local client_min_messages = warning;

-- Fixture ------------------------------------------------------------------------------------
-- W1 with t1 (a token expiring in 30 days, issued 30 days ago), t2 (expiring in 5 days),
-- t3 (expiring in 5 days, issued 2 hours ago: too young), t4 (expired), t5 (inactive),
-- t6 (no token). The "now" of the calls is the transaction's now().
insert into public.workspaces (id, name) values
  ('11111111-1111-1111-1111-111111111111', 'Acme'),
  ('22222222-2222-2222-2222-222222222222', 'Globex');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username, is_active, deactivated_at) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '2001', 't1', true, null),
  ('aaaaaaaa-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', '2002', 't2', true, null),
  ('aaaaaaaa-0000-0000-0000-000000000003', '11111111-1111-1111-1111-111111111111', '2003', 't3', true, null),
  ('aaaaaaaa-0000-0000-0000-000000000004', '11111111-1111-1111-1111-111111111111', '2004', 't4', true, null),
  ('aaaaaaaa-0000-0000-0000-000000000005', '11111111-1111-1111-1111-111111111111', '2005', 't5', false, now()),
  ('aaaaaaaa-0000-0000-0000-000000000006', '11111111-1111-1111-1111-111111111111', '2006', 't6', true, null);
insert into public.workspace_threads_tokens (id, workspace_threads_account_id, access_token_encrypted, expires_at, issued_at, is_primary) values
  ('bbbbbbbb-0000-0000-0000-000000000001', 'aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBB1', now() + interval '30 days', now() - interval '30 days', true),
  ('bbbbbbbb-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-000000000002', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBB2', now() + interval '5 days', null, true),
  ('bbbbbbbb-0000-0000-0000-000000000003', 'aaaaaaaa-0000-0000-0000-000000000003', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBB3', now() + interval '5 days', now() - interval '2 hours', true),
  ('bbbbbbbb-0000-0000-0000-000000000004', 'aaaaaaaa-0000-0000-0000-000000000004', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBB4', now() - interval '1 minute', null, true),
  ('bbbbbbbb-0000-0000-0000-000000000005', 'aaaaaaaa-0000-0000-0000-000000000005', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBB5', now() + interval '5 days', null, true);

-- Columns and defaults ---------------------------------------------------------------------------
select is((select issued_at from public.workspace_threads_tokens where id = 'bbbbbbbb-0000-0000-0000-000000000002'),
  now() - interval '55 days',
  'an insert without issued_at gets expires_at - 60 days (a long-lived token''s issue time)');
select is((select issued_at from public.workspace_threads_tokens where id = 'bbbbbbbb-0000-0000-0000-000000000001'),
  now() - interval '30 days', 'an explicit issued_at is kept');
select is((select obtained_via from public.workspace_threads_tokens where id = 'bbbbbbbb-0000-0000-0000-000000000001'),
  'connect', 'obtained_via defaults to connect');
select throws_ok($$ update public.workspace_threads_tokens set issued_at = expires_at
    where id = 'bbbbbbbb-0000-0000-0000-000000000001' $$,
  '23514', 'new row for relation "workspace_threads_tokens" violates check constraint "workspace_threads_tokens_issued_before_expiry"',
  'a token is issued before it expires');
select throws_ok($$ update public.workspace_threads_tokens set rejected_at = now()
    where id = 'bbbbbbbb-0000-0000-0000-000000000001' $$,
  '23514', 'new row for relation "workspace_threads_tokens" violates check constraint "workspace_threads_tokens_rejection_complete"',
  'a rejection without a reason is refused');
select throws_ok($$ update public.workspace_threads_tokens set obtained_via = 'magic'
    where id = 'bbbbbbbb-0000-0000-0000-000000000001' $$,
  '23514', null, 'obtained_via is connect or refresh');

-- tokens_due_for_refresh ---------------------------------------------------------------------------
select results_eq(
  $$ select username, token_id, refreshable_at = issued_at + interval '24 hours'
     from public.tokens_due_for_refresh(interval '15 days', p_workspace_id => '11111111-1111-1111-1111-111111111111') order by username $$,
  $$ values ('t2', 'bbbbbbbb-0000-0000-0000-000000000002'::uuid, true),
            ('t3', 'bbbbbbbb-0000-0000-0000-000000000003'::uuid, true) $$,
  'due: active accounts'' unexpired primary tokens expiring within the window (not t1 in 30 days, not expired t4, not inactive t5)');
select is((select refreshable_at > now() from public.tokens_due_for_refresh(interval '15 days', p_workspace_id => '11111111-1111-1111-1111-111111111111')
    where username = 't3'),
  true, 'a token issued 2 hours ago is returned with refreshable_at in the future (too young)');
select is((select count(*)::int from public.tokens_due_for_refresh(interval '40 days', p_workspace_id => '11111111-1111-1111-1111-111111111111')), 3,
  'a wider window takes t1 too');
select is((select count(*)::int from public.tokens_due_for_refresh(interval '40 days',
    p_account_ids => array['aaaaaaaa-0000-0000-0000-000000000001']::uuid[])), 1,
  'p_account_ids narrows the list');
select is((select count(*)::int from public.tokens_due_for_refresh(interval '40 days',
    p_workspace_id => '22222222-2222-2222-2222-222222222222')), 0,
  'p_workspace_id narrows the list');
select is((select count(*)::int from public.tokens_due_for_refresh(interval '40 days', p_workspace_id => '11111111-1111-1111-1111-111111111111', p_limit => 2)), 2,
  'p_limit caps the list');
select is((select username from public.tokens_due_for_refresh(interval '40 days', p_workspace_id => '11111111-1111-1111-1111-111111111111') limit 1), 't2',
  'soonest expiry first');
select throws_ok($$ select * from public.tokens_due_for_refresh(interval '0') $$, 'TS210', null,
  'a non-positive window is refused');

-- store_account_token --------------------------------------------------------------------------------
select isnt(public.store_account_token('aaaaaaaa-0000-0000-0000-000000000001',
    'v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCC1', now() + interval '60 days'), null,
  'store_account_token returns the new token''s id');
select results_eq(
  $$ select access_token_encrypted, is_primary, revoked_at is null, obtained_via, issued_at = now()
     from public.workspace_threads_tokens where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001'
     order by created_at, access_token_encrypted $$,
  $$ values ('v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBB1', true, false, 'connect', false),
            ('v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCC1', true, true, 'connect', true) $$,
  'the new token is the one primary, unrevoked token; the previous primary is revoked (a fresh 60-day token: issued now)');
select is(public.store_account_token('aaaaaaaa-0000-0000-0000-000000000001',
    'v1.AAAAAAAAAAAAAAAA.DDDDDDDDDDDDDDDDDDDDDDD1', now() + interval '60 days',
    p_replaces_token_id => 'bbbbbbbb-0000-0000-0000-000000000001'), null,
  'a refresh of a token that is no longer primary (reconnected meanwhile) stores nothing and returns NULL');
select is((select count(*)::int from public.workspace_threads_tokens
    where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001'), 2,
  '... and no row was added');
select isnt(public.store_account_token('aaaaaaaa-0000-0000-0000-000000000002',
    'v1.AAAAAAAAAAAAAAAA.DDDDDDDDDDDDDDDDDDDDDDD2', now() + interval '60 days', now(),
    'bbbbbbbb-0000-0000-0000-000000000002'), null,
  'a refresh of the current primary is stored');
select results_eq(
  $$ select obtained_via, issued_at = now(), expires_at = now() + interval '60 days' from public.workspace_threads_tokens
     where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000002' and is_primary and revoked_at is null $$,
  $$ values ('refresh', true, true) $$,
  'a refreshed token is marked obtained_via refresh with its issue time and expiry');
select is((select revoked_at from public.workspace_threads_tokens where id = 'bbbbbbbb-0000-0000-0000-000000000002'),
  now(), 'the refreshed token''s predecessor is revoked');
select throws_ok($$ select public.store_account_token('aaaaaaaa-0000-0000-0000-000000000001',
    'v1.AAAAAAAAAAAAAAAA.EEEEEEEEEEEEEEEEEEEEEEE1', now() - interval '1 second') $$,
  'TS303', null, 'an expired token is refused');
select throws_ok($$ select public.store_account_token('aaaaaaaa-0000-0000-0000-0000000000ff',
    'v1.AAAAAAAAAAAAAAAA.EEEEEEEEEEEEEEEEEEEEEEE1', now() + interval '1 day') $$,
  'TS302', 'Cannot store a token as account aaaaaaaa-0000-0000-0000-0000000000ff does not exist',
  'an unknown account is refused');
select throws_ok($$ select public.store_account_token('aaaaaaaa-0000-0000-0000-000000000001',
    'plaintext-token-value', now() + interval '1 day') $$,
  '23514', null, 'a plaintext token is refused (the table''s v1 shape check)');
select is((select count(*)::int from public.workspace_threads_tokens
    where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001' and is_primary and revoked_at is null), 1,
  'a refused store leaves the previous primary in place');

-- mark_token_rejected and what skips a rejected token ---------------------------------------------
select is(public.mark_token_rejected('bbbbbbbb-0000-0000-0000-000000000003', 'auth_expired: Graph code 190/460'), true,
  'mark_token_rejected marks a token');
select is(public.mark_token_rejected('bbbbbbbb-0000-0000-0000-000000000003', 'again'), false,
  'a second rejection changes nothing ...');
select is((select rejected_reason from public.workspace_threads_tokens where id = 'bbbbbbbb-0000-0000-0000-000000000003'),
  'auth_expired: Graph code 190/460', '... the first reason is kept');
select throws_ok($$ select public.mark_token_rejected('bbbbbbbb-0000-0000-0000-000000000001', '  ') $$,
  'TS304', null, 'a rejection needs a reason');
select throws_ok($$ select public.mark_token_rejected('bbbbbbbb-0000-0000-0000-0000000000ff', 'x') $$,
  'TS302', null, 'an unknown token is refused');
select is((select count(*)::int from public.tokens_due_for_refresh(interval '15 days', p_workspace_id => '11111111-1111-1111-1111-111111111111') where username = 't3'), 0,
  'token refresh leaves a rejected token alone');
insert into public.system_job_logs (id, job_type, trigger) values ('eeeeeeee-0000-0000-0000-000000000001', 'manual_sync', 'manual');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000001',
    p_workspace_id => '11111111-1111-1111-1111-111111111111'), 2,
  'the sync enqueues t1 and t2 only: not t3 (token rejected), t4 (expired), t5 (inactive), t6 (no token)');
select is((select count(*)::int from public.sync_run_accounts
    where run_id = 'eeeeeeee-0000-0000-0000-000000000001' and workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000003'), 0,
  'the account with the rejected token is not in the run');

-- account_token_health -------------------------------------------------------------------------------
select results_eq(
  $$ select username, token_status, needs_reconnect from public.account_token_health
     where workspace_id = '11111111-1111-1111-1111-111111111111' order by username $$,
  $$ values ('t1', 'ok', false), ('t2', 'ok', false), ('t3', 'rejected', true), ('t4', 'expired', true),
            ('t5', 'expiring_soon', false), ('t6', 'missing', true) $$,
  'account_token_health: status per account; needs_reconnect for active accounts with a rejected, expired or missing token');
select is((select rejected_reason from public.account_token_health where username = 't3'),
  'auth_expired: Graph code 190/460', 'the view shows why the token was rejected');
select results_eq(
  $$ select username from public.account_token_health where workspace_id = '11111111-1111-1111-1111-111111111111' limit 3 $$,
  $$ values ('t6'), ('t4'), ('t3') $$,
  'accounts needing a reconnect come first');

-- connect_account --------------------------------------------------------------------------------------
select results_eq(
  $$ select created, reactivated, replaced_token_id is null from public.connect_account('22222222-2222-2222-2222-222222222222',
       '3001', 'newbie', 'v1.AAAAAAAAAAAAAAAA.FFFFFFFFFFFFFFFFFFFFFFF1', now() + interval '50 days') $$,
  $$ values (true, false, true) $$,
  'connect_account creates the account with its token');
select results_eq(
  $$ select a.username, a.is_active, t.issued_at = now() - interval '10 days', t.obtained_via
     from public.workspace_threads_accounts a join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
     where a.threads_user_id = '3001' $$,
  $$ values ('newbie', true, true, 'connect') $$,
  'the account and its primary token are stored (a token expiring in 50 days was issued 10 days ago)');
select results_eq(
  $$ select created, reactivated, replaced_token_id is not null from public.connect_account('22222222-2222-2222-2222-222222222222',
       '3001', 'renamed', 'v1.AAAAAAAAAAAAAAAA.FFFFFFFFFFFFFFFFFFFFFFF2', now() + interval '60 days') $$,
  $$ values (false, false, true) $$,
  'connecting the same Threads user again updates the account and replaces its token');
select results_eq(
  $$ select a.username, count(*) filter (where t.revoked_at is null)::int, count(*)::int
     from public.workspace_threads_accounts a join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
     where a.threads_user_id = '3001' group by a.username $$,
  $$ values ('renamed', 1, 2) $$,
  'one account (username from the latest profile), one live token, the old one revoked');
select results_eq(
  $$ select account_id, created from public.connect_account('22222222-2222-2222-2222-222222222222',
       '3005', 'bound', 'v1.AAAAAAAAAAAAAAAA.FFFFFFFFFFFFFFFFFFFFFFF5', now() + interval '50 days',
       p_account_id => 'bbbbbbbb-0000-0000-0000-000000000005') $$,
  $$ values ('bbbbbbbb-0000-0000-0000-000000000005'::uuid, true) $$,
  'connect_account creates a new account under the id its token was encrypted for');
select throws_ok($$ select * from public.connect_account('22222222-2222-2222-2222-222222222222',
       '3005', 'bound', 'v1.AAAAAAAAAAAAAAAA.FFFFFFFFFFFFFFFFFFFFFFF6', now() + interval '50 days',
       p_account_id => 'bbbbbbbb-0000-0000-0000-000000000006') $$,
  'TS305', null,
  'a token encrypted for another id than the existing account''s is refused (TS305) ...');
select results_eq(
  $$ select count(*)::int, min(username) from public.workspace_threads_accounts where threads_user_id = '3005' $$,
  $$ values (1, 'bound') $$, '... and nothing changed');
select throws_ok($$ select * from public.connect_account('33333333-3333-3333-3333-333333333333',
       '3002', 'nobody', 'v1.AAAAAAAAAAAAAAAA.FFFFFFFFFFFFFFFFFFFFFFF3', now() + interval '60 days') $$,
  'TS301', 'Cannot connect an account as workspace 33333333-3333-3333-3333-333333333333 does not exist',
  'an unknown workspace is refused');
select throws_ok($$ select * from public.connect_account('22222222-2222-2222-2222-222222222222',
       '3003', 'late', 'v1.AAAAAAAAAAAAAAAA.FFFFFFFFFFFFFFFFFFFFFFF4', now() - interval '1 day') $$,
  'TS303', null, 'an expired token is refused ...');
select is((select count(*)::int from public.workspace_threads_accounts where threads_user_id = '3003'), 0,
  '... and no account is left behind (one transaction)');

-- deactivate_account ---------------------------------------------------------------------------------
select is(public.deactivate_account('aaaaaaaa-0000-0000-0000-000000000001'), true, 'deactivate_account deactivates');
select results_eq(
  $$ select is_active, deactivated_at = now() from public.workspace_threads_accounts where id = 'aaaaaaaa-0000-0000-0000-000000000001' $$,
  $$ values (false, true) $$, 'the account is inactive since now');
select is((select count(*)::int from public.workspace_threads_tokens
    where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001' and revoked_at is null), 0,
  'its token is revoked');
select is(public.deactivate_account('aaaaaaaa-0000-0000-0000-000000000001'), false, 'deactivating twice changes nothing');
select throws_ok($$ select public.deactivate_account('aaaaaaaa-0000-0000-0000-0000000000ff') $$, 'TS302', null,
  'an unknown account is refused');
insert into public.system_job_logs (id, job_type, trigger) values ('eeeeeeee-0000-0000-0000-000000000002', 'manual_sync', 'manual');
select is(public.enqueue_run_accounts('eeeeeeee-0000-0000-0000-000000000002',
    p_account_ids => array['aaaaaaaa-0000-0000-0000-000000000001']::uuid[]), 0,
  'a deactivated account is not synced');
select results_eq(
  $$ select created, reactivated from public.connect_account('11111111-1111-1111-1111-111111111111',
       '2001', 't1', 'v1.AAAAAAAAAAAAAAAA.GGGGGGGGGGGGGGGGGGGGGGG1', now() + interval '60 days') $$,
  $$ values (false, true) $$,
  'connecting a deactivated account again reactivates the same account');
select results_eq(
  $$ select is_active, deactivated_at is null from public.workspace_threads_accounts where id = 'aaaaaaaa-0000-0000-0000-000000000001' $$,
  $$ values (true, true) $$, 'it is active again, history rows untouched (same id)');

-- Token refresh runs: lock, skip, continue, finish -------------------------------------------------
delete from public.system_job_locks where job_name = 'token_refresh';
create temporary table first_run as
  select * from public.begin_token_refresh_run('cron', '{"windowDays": 15}', interval '5 minutes');
select is((select outcome from first_run), 'started', 'a trigger starts a token_refresh run ...');
select results_eq(
  $$ select j.job_type, j.status, j.metadata -> 'request' ->> 'windowDays', l.locked_by = 'run:' || j.id
     from first_run f join public.system_job_logs j on j.id = f.run_id
     join public.system_job_locks l on l.job_name = 'token_refresh' $$,
  $$ values ('token_refresh', 'running', '15', true) $$,
  '... with its log row (request kept) and the token_refresh lock in its name');
create temporary table second_run as
  select * from public.begin_token_refresh_run('manual', '{}', interval '5 minutes');
select results_eq(
  $$ select s.outcome, s.other_run_id = f.run_id, j.status, j.metadata ->> 'reason'
     from first_run f, second_run s join public.system_job_logs j on j.id = s.run_id $$,
  $$ values ('skipped', true, 'skipped', 'lock_held') $$,
  'a second trigger while the lock is live is recorded as a skipped run naming the live one');
create temporary table continued as
  select * from public.begin_token_refresh_run('continuation', '{}', interval '5 minutes',
    (select run_id from first_run));
select results_eq(
  $$ select c.outcome, j.invocations from continued c join public.system_job_logs j on j.id = c.run_id $$,
  $$ values ('continue', 2) $$,
  'a continuation joins the run (invocations + 1)');
insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status, started_at, error_code, error_message)
select f.run_id, 'aaaaaaaa-0000-0000-0000-000000000002'::uuid, 'token_refresh', 'completed', now(), null, null from first_run f
union all
select f.run_id, 'aaaaaaaa-0000-0000-0000-000000000003', 'token_refresh', 'failed', now(), 'auth_expired', 'rejected' from first_run f;
select is((select count(*)::int from first_run f, public.tokens_due_for_refresh(interval '59 days', f.run_id) d
    where d.account_id in ('aaaaaaaa-0000-0000-0000-000000000002', 'aaaaaaaa-0000-0000-0000-000000000003')), 0,
  'an account already tried in the run is not due again in that run');
select is((select public.finish_token_refresh_run(f.run_id) from first_run f), 'partial',
  'finishing: partial when an account failed');
select results_eq(
  $$ select j.completed_at is not null, (j.metadata ->> 'total_accounts')::int, (j.metadata ->> 'success_count')::int,
       (j.metadata ->> 'error_count')::int, (j.metadata ->> 'rejected_count')::int, l.released_at is not null
     from first_run f join public.system_job_logs j on j.id = f.run_id
     join public.system_job_locks l on l.job_name = 'token_refresh' $$,
  $$ values (true, 2, 1, 1, 1, true) $$,
  'the finished run carries its counts from sync_logs, and the lock is released');
select is((select outcome from public.begin_token_refresh_run('continuation', '{}', interval '5 minutes',
    (select run_id from first_run))), 'finished', 'a continuation of a finished run does nothing');
select is((select outcome from public.begin_token_refresh_run('continuation', '{}', interval '5 minutes',
    'eeeeeeee-0000-0000-0000-000000000001')), 'unknown', 'a continuation of a run that is no token refresh is refused');
-- A run whose worker died: its lock expires while it is still running.
create temporary table dead_run as
  select * from public.begin_token_refresh_run('cron', '{}', interval '5 minutes');
update public.system_job_locks set expires_at = now() - interval '1 second' where job_name = 'token_refresh';
create temporary table resumed as
  select * from public.begin_token_refresh_run('cron', '{}', interval '5 minutes');
select results_eq(
  $$ select r.outcome, r.run_id = d.run_id, (j.metadata ->> 'interruptions')::int, j.invocations
     from dead_run d, resumed r join public.system_job_logs j on j.id = r.run_id $$,
  $$ values ('resumed', true, 1, 2) $$,
  'the next trigger resumes a run whose lock expired while it was running');
select is((select public.finish_token_refresh_run(d.run_id) from dead_run d), 'completed',
  'a run with no failed account completes');
select throws_ok($$ select public.finish_token_refresh_run((select run_id from dead_run), 'internal_error', '') $$,
  'TS213', null, 'failing a run needs a message');

-- Schedule and privileges ------------------------------------------------------------------------------
select results_eq(
  $$ select schedule collate "default", command collate "default" from cron.job where jobname = 'token-refresh' $$,
  $$ values ('7 3 * * *', 'select public.trigger_edge_function(''token-refresh'')') $$,
  'exactly one pg_cron job token-refresh, daily at 03:07, through trigger_edge_function');
select is_empty(
  $$ select f from unnest(array[
       'public.store_account_token(uuid,text,timestamptz,timestamptz,uuid,timestamptz)',
       'public.mark_token_rejected(uuid,text,timestamptz)',
       'public.connect_account(uuid,text,text,text,timestamptz,timestamptz,timestamptz,uuid)',
       'public.deactivate_account(uuid,timestamptz)',
       'public.tokens_due_for_refresh(interval,uuid,uuid[],uuid,integer,timestamptz)',
       'public.begin_token_refresh_run(text,jsonb,interval,uuid,timestamptz)',
       'public.hand_off_token_refresh_run(uuid,interval,timestamptz)',
       'public.finish_token_refresh_run(uuid,text,text,timestamptz)']) f
     where pg_catalog.has_function_privilege('service_role', f::regprocedure, 'EXECUTE')
        or pg_catalog.has_function_privilege('anon', f::regprocedure, 'EXECUTE')
        or pg_catalog.has_function_privilege('authenticated', f::regprocedure, 'EXECUTE') $$,
  'no API role may call the token functions (the functions connect as postgres)');
set local role anon;
select throws_ok($$ select * from public.account_token_health $$, '42501', 'permission denied for view account_token_health',
  'anon cannot read account_token_health');
reset role;

select * from finish();
rollback;
