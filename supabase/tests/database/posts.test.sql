-- upsert_posts: set-based insert/update of an account's posts with a stale-write guard.
begin;
select plan(18);
set local client_min_messages = warning;

insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice'),
  ('aaaaaaaa-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', '1002', 'bob');

select is(
  public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001',
    '[{"threads_post_id": "18097354066831962", "text": "Today Is Monday", "media_type": "TEXT_POST",
       "permalink": "https://www.threads.com/@alice/post/DRHI1xwkg9u", "shortcode": "DRHI1xwkg9u",
       "is_quote_post": false, "published_at": "2025-11-16T09:00:20+0000", "owner": {"id": "1001"}},
      {"threads_post_id": "2", "text": "second", "media_type": "IMAGE"}]',
    now() - interval '2 hours'),
  '{"inserted": 2, "updated": 0, "unchanged": 0, "stale": 0}'::jsonb,
  'new posts are inserted (unknown keys such as owner ignored)');
select results_eq(
  $$ select text, media_type, permalink, shortcode, is_quote_post, published_at, last_synced_at = now() - interval '2 hours'
     from public.workspace_threads_posts where threads_post_id = '18097354066831962' $$,
  $$ values ('Today Is Monday', 'TEXT_POST', 'https://www.threads.com/@alice/post/DRHI1xwkg9u', 'DRHI1xwkg9u',
             false, '2025-11-16 09:00:20+00'::timestamptz, true) $$,
  'every field is stored; the API''s +0000 timestamp is parsed');

select is(
  public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001',
    '[{"threads_post_id": "18097354066831962", "text": "Today Is Monday", "media_type": "TEXT_POST"},
      {"threads_post_id": "2", "text": "second", "media_type": "IMAGE"}]',
    now() - interval '1 hour'),
  '{"inserted": 0, "updated": 0, "unchanged": 2, "stale": 0}'::jsonb,
  'the same content again is unchanged (absent keys keep their values)');
select is(
  (select last_synced_at = now() - interval '2 hours' from public.workspace_threads_posts where threads_post_id = '2'),
  true, 'an unchanged post is not rewritten (last_synced_at stays)');

select is(
  public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001',
    '[{"threads_post_id": "2", "text": "second, edited"}]', now() - interval '30 minutes'),
  '{"inserted": 0, "updated": 1, "unchanged": 0, "stale": 0}'::jsonb,
  'changed content from a newer fetch is an update');
select results_eq(
  $$ select text, media_type, last_synced_at = now() - interval '30 minutes'
     from public.workspace_threads_posts where threads_post_id = '2' $$,
  $$ values ('second, edited', 'IMAGE', true) $$,
  'the update replaced the given field, kept the absent one, and moved last_synced_at');

select is(
  public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001',
    '[{"threads_post_id": "2", "text": "stale text"}]', now() - interval '45 minutes'),
  '{"inserted": 0, "updated": 0, "unchanged": 0, "stale": 1}'::jsonb,
  'stale-write guard: an older fetch does not overwrite a newer one');
select is((select text from public.workspace_threads_posts where threads_post_id = '2'), 'second, edited',
  'the newer content is kept');

select is(
  public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001',
    '[{"threads_post_id": "2", "permalink": null}, {"threads_post_id": "3", "text": "a"}, {"threads_post_id": "3", "text": "b"}]',
    now() - interval '20 minutes'),
  '{"inserted": 1, "updated": 0, "unchanged": 1, "stale": 0}'::jsonb,
  'a repeated id in one batch is written once (explicit null where NULL already is: unchanged)');
select is((select text from public.workspace_threads_posts where threads_post_id = '3'), 'b',
  'the last occurrence of a repeated id wins');
select is(
  public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001',
    '[{"threads_post_id": "2", "text": null}]', now() - interval '10 minutes') ->> 'updated',
  '1', 'an explicit null is a value: it clears the field');

select is(
  public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000002', '[{"threads_post_id": "2", "text": "bob''s"}]') ->> 'inserted',
  '1', 'the same threads_post_id under another account is another post');
select is((select count(*) from public.workspace_threads_posts where threads_post_id = '2'), 2::bigint,
  'posts are unique per (account, threads_post_id), not globally');

select throws_ok(
  $$ select public.upsert_posts('aaaaaaaa-0000-0000-0000-0000000000ff', '[]') $$,
  'TS203', 'Cannot write posts as account aaaaaaaa-0000-0000-0000-0000000000ff does not exist',
  'unknown account: TS203');
select throws_ok(
  $$ select public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001', '{}') $$,
  'TS204', 'p_posts must be a JSON array: current value is {}',
  'p_posts must be an array: TS204');
select throws_ok(
  $$ select public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001', '[{"threads_post_id": "9"}, {"threads_post_id": 10}]') $$,
  'TS204', 'p_posts[1] must be an object with a non-empty string threads_post_id',
  'a numeric threads_post_id is refused: TS204 naming the index');
select throws_ok(
  $$ select public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001', '[{"threads_post_id": "9", "media_type": "text_post"}]') $$,
  '23514', 'new row for relation "workspace_threads_posts" violates check constraint "workspace_threads_posts_media_type_shape"',
  'a value breaking a column check is refused by the check');
select is(
  public.upsert_posts('aaaaaaaa-0000-0000-0000-000000000001', '[]'),
  '{"inserted": 0, "updated": 0, "unchanged": 0, "stale": 0}'::jsonb,
  'an empty batch writes nothing');

select * from finish();
rollback;
