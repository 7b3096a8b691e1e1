-- Post metrics in three layers: record_post_metrics writes L1 snapshot + L2 delta only when a
-- value changed, L3 always; deltas, NULLs, repeats, foreign posts; L1/L2 are immutable.
begin;
select plan(45);
set local client_min_messages = warning;

-- Fixture: one workspace, two accounts; alice has posts p1, p2 and bob has q1.
insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice'),
  ('aaaaaaaa-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', '1002', 'bob');
do $$
begin
  perform public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001',
    '[{"threads_post_id": "p1"}, {"threads_post_id": "p2"}]', now() - interval '3 hours');
  perform public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000002',
    '[{"threads_post_id": "q1"}]', now() - interval '3 hours');
end
$$;

-- Helpers for this file only (temporary, gone with the rollback).
create temporary view p1_history as
  select m.id, m.captured_at, m.views, m.likes, m.replies, m.reposts, m.quotes, m.shares,
    d.previous_snapshot_id, d.views as d_views, d.likes as d_likes, d.replies as d_replies,
    d.reposts as d_reposts, d.quotes as d_quotes, d.shares as d_shares
  from public.workspace_threads_post_metrics m
  join public.workspace_threads_posts p on p.id = m.workspace_threads_post_id
  left join public.workspace_threads_post_metrics_deltas d on d.snapshot_id = m.id
  where p.threads_post_id = 'p1';

-- 1. First capture -----------------------------------------------------------------------
select is(
  public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '60 minutes',
    '[{"threads_post_id": "p1", "views": 100, "likes": 10, "replies": 1, "reposts": 0, "quotes": 0, "shares": 2},
      {"threads_post_id": "p2", "views": 5}]'),
  '{"snapshots": 2, "deltas": 2, "unchanged": 0, "stale": 0, "posts_updated": 2}'::jsonb,
  'first capture: a snapshot and a delta per post, both posts updated');
select results_eq(
  $$ select previous_snapshot_id is null, d_views, d_likes, d_replies, d_reposts, d_quotes, d_shares from p1_history $$,
  $$ values (true, 100::bigint, 10::bigint, 1::bigint, 0::bigint, 0::bigint, 2::bigint) $$,
  'first snapshot: previous_snapshot_id is NULL and the delta is the values (delta from nothing)');
select results_eq(
  $$ select m.views, m.likes, m.shares from public.workspace_threads_post_metrics m
     join public.workspace_threads_posts p on p.id = m.workspace_threads_post_id where p.threads_post_id = 'p2' $$,
  $$ values (5::bigint, null::bigint, null::bigint) $$,
  'an absent metric is stored as NULL, never 0');
select results_eq(
  $$ select current_views, current_likes, current_shares, metrics_updated_at = now() - interval '60 minutes',
       metrics_checked_at = now() - interval '60 minutes'
     from public.workspace_threads_posts where threads_post_id = 'p1' $$,
  $$ values (100::bigint, 10::bigint, 2::bigint, true, true) $$,
  'L3 holds the first snapshot''s values and its capture time');

-- 2. Second capture: deltas against the first ---------------------------------------------
select is(
  public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '45 minutes',
    '[{"threads_post_id": "p1", "views": 150, "likes": 12, "replies": 1, "reposts": 0, "quotes": 0, "shares": 2},
      {"threads_post_id": "p2", "views": 5}]'),
  '{"snapshots": 1, "deltas": 1, "unchanged": 1, "stale": 0, "posts_updated": 2}'::jsonb,
  'second capture: p1 changed (snapshot), p2 did not (unchanged, no snapshot)');
select results_eq(
  $$ select h.previous_snapshot_id = (select min(id) from p1_history), h.d_views, h.d_likes, h.d_replies, h.d_shares
     from p1_history h where h.captured_at = now() - interval '45 minutes' $$,
  $$ values (true, 50::bigint, 2::bigint, 0::bigint, 0::bigint) $$,
  'second delta: new - previous, previous_snapshot_id points at the first snapshot');
select results_eq(
  $$ select (select count(*) from public.workspace_threads_post_metrics m where m.workspace_threads_post_id = p.id),
       metrics_updated_at = now() - interval '60 minutes', metrics_checked_at = now() - interval '45 minutes'
     from public.workspace_threads_posts p where threads_post_id = 'p2' $$,
  $$ values (1::bigint, true, true) $$,
  'unchanged values: no new snapshot, metrics_checked_at moves, metrics_updated_at stays');

-- 3. Decreasing values -------------------------------------------------------------------
select is(
  public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '30 minutes',
    '[{"threads_post_id": "p1", "views": 140, "likes": 12, "replies": 1, "reposts": 0, "quotes": 0, "shares": 2}]') ->> 'snapshots',
  '1', 'a decrease is a change: a snapshot is written');
select is(
  (select d_views from p1_history where captured_at = now() - interval '30 minutes'),
  -10::bigint, 'a decreasing value gives a negative delta');

-- 4. NULL metrics ------------------------------------------------------------------------
do $$ begin perform public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '20 minutes',
  '[{"threads_post_id": "p1", "views": 140, "likes": null, "replies": 1, "reposts": 0, "quotes": 0, "shares": 2}]'); end $$;
select results_eq(
  $$ select likes, d_likes, d_views from p1_history where captured_at = now() - interval '20 minutes' $$,
  $$ values (null::bigint, null::bigint, 0::bigint) $$,
  'a metric that became NULL: snapshot NULL, delta NULL; unchanged metrics have delta 0');
select is((select current_likes from public.workspace_threads_posts where threads_post_id = 'p1'),
  null::bigint, 'L3 follows the latest snapshot, NULL included (no value without a snapshot behind it)');
do $$ begin perform public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '15 minutes',
  '[{"threads_post_id": "p1", "views": 140, "likes": 13, "replies": 1, "reposts": 0, "quotes": 0, "shares": 2}]'); end $$;
select is((select d_likes from p1_history where captured_at = now() - interval '15 minutes'),
  null::bigint, 'the delta of a metric whose previous value was NULL is NULL');

-- 5. A repeated capture writes nothing ---------------------------------------------------
select is(
  public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '15 minutes',
    '[{"threads_post_id": "p1", "views": 999, "likes": 13}]'),
  '{"snapshots": 0, "deltas": 0, "unchanged": 0, "stale": 1, "posts_updated": 0}'::jsonb,
  'the same capture time again (a retry) is stale: nothing written');
select is(
  public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '50 minutes',
    '[{"threads_post_id": "p1", "views": 1}]') ->> 'stale',
  '1', 'a capture older than the last check (overtaken) is stale too');
select is((select count(*) from p1_history), 5::bigint, 'p1 has exactly five snapshots after the repeats');
select is((select current_views from public.workspace_threads_posts where threads_post_id = 'p1'),
  140::bigint, 'a stale capture does not touch L3');

-- 6. Unchanged values --------------------------------------------------------------------
select is(
  public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '10 minutes',
    '[{"threads_post_id": "p1", "views": 140, "likes": 13, "replies": 1, "reposts": 0, "quotes": 0, "shares": 2}]'),
  '{"snapshots": 0, "deltas": 0, "unchanged": 1, "stale": 0, "posts_updated": 1}'::jsonb,
  'same values as the latest snapshot: unchanged');
select results_eq(
  $$ select metrics_checked_at = now() - interval '10 minutes', metrics_updated_at = now() - interval '15 minutes'
     from public.workspace_threads_posts where threads_post_id = 'p1' $$,
  $$ values (true, true) $$,
  'unchanged: metrics_checked_at is the new capture, metrics_updated_at the last change');
select is((select count(*) from p1_history), 5::bigint, 'unchanged: no new snapshot');

-- The deltas add up to the latest values where no NULL broke the chain.
select results_eq(
  $$ select sum(d_views), sum(d_shares) from p1_history $$,
  $$ values (140::numeric, 2::numeric) $$,
  'the deltas of a post add up to its current values');
select is(
  (select count(*) from public.workspace_threads_post_metrics m
   left join public.workspace_threads_post_metrics_deltas d on d.snapshot_id = m.id
   where d.snapshot_id is null),
  0::bigint, 'every snapshot has its delta');

-- 7. Refusals: nothing of the call is written --------------------------------------------
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '5 minutes',
       '[{"threads_post_id": "p1", "views": 500}, {"threads_post_id": "q1", "views": 7}]') $$,
  'TS202',
  'Cannot record metrics as 1 post(s) are not posts of account aaaaaaaa-0000-0000-0000-000000000001: q1',
  'a post of another account is refused with TS202');
select results_eq(
  $$ select count(*), max(captured_at) = now() - interval '15 minutes' from p1_history $$,
  $$ values (5::bigint, true) $$,
  'after the refusal p1 has no new snapshot ...');
select is((select metrics_checked_at = now() - interval '10 minutes' from public.workspace_threads_posts where threads_post_id = 'p1'),
  true, '... and its metrics_checked_at did not move');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now(),
       '[{"threads_post_id": "p1"}, {"threads_post_id": "nope"}, {"threads_post_id": "nada"}]') $$,
  'TS202',
  'Cannot record metrics as 2 post(s) are not posts of account aaaaaaaa-0000-0000-0000-000000000001: nada, nope',
  'unknown post ids are refused with TS202, listed');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-0000000000ff', now(), '[]') $$,
  'TS203', 'Cannot record metrics as account aaaaaaaa-0000-0000-0000-0000000000ff does not exist',
  'an unknown account is refused with TS203');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now(), '{"threads_post_id": "p1"}') $$,
  'TS204', 'p_metrics must be a JSON array: current value is {"threads_post_id": "p1"}',
  'p_metrics must be an array (TS204)');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now(), '[{"threads_post_id": "p1"}, {"views": 1}]') $$,
  'TS204', 'p_metrics[1].threads_post_id must be a non-empty string',
  'an element without threads_post_id is refused (TS204), naming its index');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now(), '[{"threads_post_id": "p1", "views": -1}]') $$,
  'TS204', 'p_metrics[0].views must be a non-negative integer or null: current value is -1',
  'a negative metric is refused (TS204)');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now(), '[{"threads_post_id": "p1", "likes": 1.5}]') $$,
  'TS204', 'p_metrics[0].likes must be a non-negative integer or null: current value is 1.5',
  'a fractional metric is refused (TS204)');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now(), '[{"threads_post_id": "p1", "shares": "12"}]') $$,
  'TS204', 'p_metrics[0].shares must be a non-negative integer or null: current value is "12"',
  'a metric given as a string is refused (TS204)');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', null, '[]') $$,
  'TS204', 'p_captured_at must be a timestamp: current value is NULL',
  'a NULL capture time is refused (TS204)');
select throws_ok(
  $$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() + interval '1 hour', '[]') $$,
  'TS205', null,
  'a capture time in the future is refused (TS205)');

-- 8. Batch details -----------------------------------------------------------------------
select is(
  public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '5 minutes',
    '[{"threads_post_id": "p2", "views": 6}, {"threads_post_id": "p2", "views": 8}]') ->> 'snapshots',
  '1', 'a post listed twice in one batch gives one snapshot ...');
select is((select current_views from public.workspace_threads_posts where threads_post_id = 'p2'),
  8::bigint, '... with the last values given');
select is(
  public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now() - interval '4 minutes', '[]'),
  '{"snapshots": 0, "deltas": 0, "unchanged": 0, "stale": 0, "posts_updated": 0}'::jsonb,
  'an empty batch writes nothing');

-- 9. L1 and L2 are immutable -------------------------------------------------------------
select throws_ok(
  $$ update public.workspace_threads_post_metrics set views = 0 $$,
  'TS201', 'Cannot update workspace_threads_post_metrics as snapshots and deltas are immutable (insert only)',
  'UPDATE of L1 is refused (TS201)');
select throws_ok(
  $$ delete from public.workspace_threads_post_metrics $$,
  'TS201', 'Cannot delete workspace_threads_post_metrics as snapshots and deltas are immutable (insert only)',
  'DELETE of L1 is refused (TS201)');
select throws_ok(
  $$ delete from public.workspace_threads_post_metrics where false $$,
  'TS201', null,
  'even a DELETE matching no row is refused (statement-level guard)');
select throws_ok(
  $$ truncate public.workspace_threads_post_metrics cascade $$,
  'TS201', null,
  'TRUNCATE of L1 is refused (TS201)');
select throws_ok(
  $$ update public.workspace_threads_post_metrics_deltas set views = 0 $$,
  'TS201', 'Cannot update workspace_threads_post_metrics_deltas as snapshots and deltas are immutable (insert only)',
  'UPDATE of L2 is refused (TS201)');
select throws_ok(
  $$ delete from public.workspace_threads_post_metrics_deltas $$,
  'TS201', null,
  'DELETE of L2 is refused (TS201)');
select throws_ok(
  $$ set local threads_sync.erasing = 'on'; update public.workspace_threads_post_metrics set views = 0 $$,
  'TS201', null,
  'the erasure setting never allows an UPDATE');
select throws_ok(
  $$ delete from public.workspace_threads_posts where threads_post_id = 'p1' $$,
  '23503', null,
  'a post with snapshots cannot be deleted (foreign key restrict)');

-- 10. One statement, one transaction: L1, L2 and L3 agree ---------------------------------
select is(
  (select count(*) from public.workspace_threads_posts p
   where p.metrics_checked_at is not null
     and row(p.current_views, p.current_likes, p.current_replies, p.current_reposts, p.current_quotes, p.current_shares)
         is distinct from (
           select row(m.views, m.likes, m.replies, m.reposts, m.quotes, m.shares)
           from public.workspace_threads_post_metrics m
           where m.workspace_threads_post_id = p.id order by m.captured_at desc limit 1)),
  0::bigint, 'L3 equals the latest snapshot for every post');

select * from finish();
rollback;
