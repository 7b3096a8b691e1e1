-- account_token_status: the one token health rule. Every status from seeded accounts (rolled
-- back), account_token_health and the metrics agreeing with it, and who may read it.
begin;
select plan(7);
set local client_min_messages = warning;

-- Fixture: one active account per status, plus an inactive account with an expired token (not
-- to be reconnected) and an account whose only other token is revoked (missing).
insert into public.workspaces (id, name) values ('44444444-4444-4444-4444-444444444444', 'Statuses');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username, is_active, deactivated_at) values
  ('dddddddd-0000-0000-0000-000000000001', '44444444-4444-4444-4444-444444444444', '4001', 's_ok', true, null),
  ('dddddddd-0000-0000-0000-000000000002', '44444444-4444-4444-4444-444444444444', '4002', 's_soon', true, null),
  ('dddddddd-0000-0000-0000-000000000003', '44444444-4444-4444-4444-444444444444', '4003', 's_expired', true, null),
  ('dddddddd-0000-0000-0000-000000000004', '44444444-4444-4444-4444-444444444444', '4004', 's_rejected', true, null),
  ('dddddddd-0000-0000-0000-000000000005', '44444444-4444-4444-4444-444444444444', '4005', 's_missing', true, null),
  ('dddddddd-0000-0000-0000-000000000006', '44444444-4444-4444-4444-444444444444', '4006', 's_inactive', false, now());
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary, rejected_at, rejected_reason, revoked_at) values
  ('dddddddd-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCC1', now() + interval '16 days', true, null, null, null),
  ('dddddddd-0000-0000-0000-000000000002', 'v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCC2', now() + interval '14 days', true, null, null, null),
  ('dddddddd-0000-0000-0000-000000000003', 'v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCC3', now(), true, null, null, null),
  ('dddddddd-0000-0000-0000-000000000004', 'v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCC4', now() + interval '30 days', true, now(), 'auth_expired: Graph code 190', null),
  ('dddddddd-0000-0000-0000-000000000005', 'v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCC5', now() + interval '30 days', true, null, null, now()),
  ('dddddddd-0000-0000-0000-000000000006', 'v1.AAAAAAAAAAAAAAAA.CCCCCCCCCCCCCCCCCCCCCCC6', now() - interval '1 day', true, null, null, now());

select results_eq(
  $$ select a.username, s.token_status, s.needs_reconnect
     from public.account_token_status s join public.workspace_threads_accounts a on a.id = s.account_id
     where a.workspace_id = '44444444-4444-4444-4444-444444444444' order by a.threads_user_id $$,
  $$ values ('s_ok', 'ok', false), ('s_soon', 'expiring_soon', false), ('s_expired', 'expired', true),
            ('s_rejected', 'rejected', true), ('s_missing', 'missing', true), ('s_inactive', 'missing', false) $$,
  'every status: ok past 15 days, expiring_soon within, expired at expiry, rejected, missing (revoked); only active accounts need a reconnect');
select is(
  (select count(*)::int from public.account_token_status), (select count(*)::int from public.workspace_threads_accounts),
  'one row per account, active or not');

-- account_token_health takes its status from the rule: the same answer for every account.
select set_eq(
  $$ select account_id, token_status, needs_reconnect, token_id, expires_at, rejected_at from public.account_token_health $$,
  $$ select account_id, token_status, needs_reconnect, token_id, expires_at, rejected_at from public.account_token_status $$,
  'account_token_health and account_token_status agree on every account');
select results_eq(
  $$ select v.token_status, count(*)::int from public.account_token_health v
     where v.workspace_id = '44444444-4444-4444-4444-444444444444' group by 1 order by 1 $$,
  $$ values ('expired', 1), ('expiring_soon', 1), ('missing', 2), ('ok', 1), ('rejected', 1) $$,
  'account_token_health shows each of the five statuses');

-- The metrics count active accounts by the same rule.
select set_eq(
  $$ select labels ->> 'status', value::int from public.collect_sync_metrics(48000)
     where metric = 'threads_sync_account_tokens' and value > 0 $$,
  $$ select token_status, count(*)::int from public.account_token_status where is_active group by 1 $$,
  'threads_sync_account_tokens counts active accounts by account_token_status');

set local role anon;
select throws_ok($$ select * from public.account_token_status $$, '42501',
  'permission denied for view account_token_status', 'anon cannot read account_token_status');
reset role;
set local role service_role;
select is((select count(*)::int from public.account_token_status where account_id::text like 'dddddddd-%'), 6,
  'service_role reads account_token_status (operators'' console)');
reset role;

select * from finish();
rollback;
