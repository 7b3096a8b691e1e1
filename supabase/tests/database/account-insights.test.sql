-- Account insights in three layers: record_account_insights, same rules as post metrics.
begin;
select plan(20);
set local client_min_messages = warning;

insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice');

create temporary view alice_history as
  select s.id, s.captured_at, s.followers_count, s.views, s.clicks, d.previous_snapshot_id,
    d.followers_count as d_followers, d.views as d_views, d.likes as d_likes, d.clicks as d_clicks
  from public.workspace_threads_account_insights s
  left join public.workspace_threads_account_insights_deltas d on d.snapshot_id = s.id
  where s.workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001';

select is(
  public.record_account_insights('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '45 minutes',
    '{"followers_count": 1000, "views": 500, "likes": 40, "replies": 3, "reposts": 2, "quotes": 1}'),
  '{"snapshots": 1, "deltas": 1, "unchanged": 0, "stale": 0, "accounts_updated": 1}'::jsonb,
  'first capture: one snapshot, one delta');
select results_eq(
  $$ select previous_snapshot_id is null, d_followers, d_views, clicks, d_clicks from alice_history $$,
  $$ values (true, 1000::bigint, 500::bigint, null::bigint, null::bigint) $$,
  'first delta is the values; absent clicks is NULL (not 0) with a NULL delta');
select results_eq(
  $$ select current_followers_count, current_views, current_clicks,
       insights_updated_at = now() - interval '45 minutes', insights_checked_at = now() - interval '45 minutes'
     from public.workspace_threads_accounts $$,
  $$ values (1000::bigint, 500::bigint, null::bigint, true, true) $$,
  'L3 on the account holds the snapshot''s values and time');

select is(
  public.record_account_insights('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '30 minutes',
    '{"followers_count": 1010, "views": 450, "likes": 40, "replies": 3, "reposts": 2, "quotes": 1, "clicks": 7}') ->> 'snapshots',
  '1', 'second capture with changes: a snapshot');
select results_eq(
  $$ select previous_snapshot_id = (select min(id) from alice_history), d_followers, d_views, d_likes, d_clicks
     from alice_history where captured_at = now() - interval '30 minutes' $$,
  $$ values (true, 10::bigint, -50::bigint, 0::bigint, null::bigint) $$,
  'deltas: +10 followers, -50 views (window totals go down), 0 likes, NULL clicks (previous was NULL)');

select is(
  public.record_account_insights('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '15 minutes',
    '{"followers_count": 1010, "views": 450, "likes": 40, "replies": 3, "reposts": 2, "quotes": 1, "clicks": 7, "follower_demographics": {"x": 1}}'),
  '{"snapshots": 0, "deltas": 0, "unchanged": 1, "stale": 0, "accounts_updated": 1}'::jsonb,
  'same values (unknown keys ignored): unchanged, no snapshot');
select results_eq(
  $$ select insights_checked_at = now() - interval '15 minutes', insights_updated_at = now() - interval '30 minutes'
     from public.workspace_threads_accounts $$,
  $$ values (true, true) $$,
  'unchanged: insights_checked_at moves, insights_updated_at stays');
select is(
  public.record_account_insights('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '15 minutes',
    '{"followers_count": 1}'),
  '{"snapshots": 0, "deltas": 0, "unchanged": 0, "stale": 1, "accounts_updated": 0}'::jsonb,
  'a repeated capture time is stale: nothing written');
select is((select count(*) from alice_history), 2::bigint, 'two snapshots in all');
select is((select current_followers_count from public.workspace_threads_accounts), 1010::bigint,
  'a stale capture leaves L3 alone');

select is(
  public.record_account_insights('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '5 minutes',
    '{"followers_count": 1010, "views": null, "likes": 40, "replies": 3, "reposts": 2, "quotes": 1, "clicks": 7}') ->> 'snapshots',
  '1', 'a metric that became NULL is a change');
select results_eq(
  $$ select views, d_views, d_followers from alice_history where captured_at = now() - interval '5 minutes' $$,
  $$ values (null::bigint, null::bigint, 0::bigint) $$,
  'NULL metric: NULL value and NULL delta');

select throws_ok(
  $$ select public.record_account_insights('aaaaaaaa-0000-0000-0000-0000000000ff', now(), '{}') $$,
  'TS203', 'Cannot record insights as account aaaaaaaa-0000-0000-0000-0000000000ff does not exist',
  'unknown account: TS203');
select throws_ok(
  $$ select public.record_account_insights('aaaaaaaa-0000-0000-0000-000000000001', now(), '[1]') $$,
  'TS204', 'p_insights must be a JSON object: current value is [1]',
  'p_insights must be an object: TS204');
select throws_ok(
  $$ select public.record_account_insights('aaaaaaaa-0000-0000-0000-000000000001', now(), '{"followers_count": -3}') $$,
  'TS204', 'p_insights.followers_count must be a non-negative integer or null: current value is -3',
  'negative insight: TS204');
select throws_ok(
  $$ select public.record_account_insights('aaaaaaaa-0000-0000-0000-000000000001', now() + interval '1 day', '{}') $$,
  'TS205', null, 'future capture: TS205');

select throws_ok(
  $$ update public.workspace_threads_account_insights set views = 1 $$,
  'TS201', 'Cannot update workspace_threads_account_insights as snapshots and deltas are immutable (insert only)',
  'UPDATE of insights L1 refused (TS201)');
select throws_ok(
  $$ delete from public.workspace_threads_account_insights $$,
  'TS201', null, 'DELETE of insights L1 refused (TS201)');
select throws_ok(
  $$ update public.workspace_threads_account_insights_deltas set views = 1 $$,
  'TS201', null, 'UPDATE of insights L2 refused (TS201)');
select throws_ok(
  $$ delete from public.workspace_threads_account_insights_deltas $$,
  'TS201', null, 'DELETE of insights L2 refused (TS201)');

select * from finish();
rollback;
