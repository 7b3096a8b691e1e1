-- Domain, part 2: the posts of each account, and public.upsert_posts(), the one call that
-- writes a page of posts fetched from the Threads API.
--
-- Posts are history (their snapshots reference them), so they are never deleted with their
-- account (`on delete restrict`; see the previous migration for the deletion policy). A post
-- that disappears upstream stays here; `last_synced_at` tells how long ago the API last
-- returned different content for it.

create table public.workspace_threads_posts (
  id uuid primary key default gen_random_uuid(),
  workspace_threads_account_id uuid not null
    references public.workspace_threads_accounts (id) on delete restrict,
  threads_post_id text not null,
  text text,
  -- TEXT_POST, IMAGE, VIDEO, CAROUSEL_ALBUM, AUDIO, REPOST_FACADE today. Checked for shape,
  -- not against that list: a new upstream type must not make the whole page fail to sync.
  media_type text,
  -- Omitted by the API for posts flagged for copyright: NULL then.
  permalink text,
  shortcode text,
  is_quote_post boolean,
  published_at timestamptz,
  -- L3 of post metrics: the values of the latest snapshot in workspace_threads_post_metrics,
  -- written by public.record_post_metrics() only. NULL: the API did not report it (never 0).
  current_views bigint,
  current_likes bigint,
  current_replies bigint,
  current_reposts bigint,
  current_quotes bigint,
  current_shares bigint,
  -- captured_at of the latest snapshot (the last time a metric changed) ...
  metrics_updated_at timestamptz,
  -- ... and of the latest capture, changed or not ("last checked").
  metrics_checked_at timestamptz,
  -- The fetch time of the content now stored: the stale-write guard of upsert_posts.
  last_synced_at timestamptz not null,
  created_at timestamptz not null default now(),
  constraint workspace_threads_posts_account_post_key
    unique (workspace_threads_account_id, threads_post_id),
  constraint workspace_threads_posts_threads_post_id_shape
    check (threads_post_id ~ '^[A-Za-z0-9_:-]{1,64}$'),
  constraint workspace_threads_posts_media_type_shape
    check (media_type ~ '^[A-Z][A-Z0-9_]{0,39}$'),
  constraint workspace_threads_posts_permalink_is_url
    check (permalink ~ '^https?://'),
  -- Both set by the first capture (which always writes a snapshot); a change is never later
  -- than the last check. (Both NULL: the comparison is NULL, which a check accepts.)
  constraint workspace_threads_posts_metrics_times_ordered
    check ((metrics_updated_at is null) = (metrics_checked_at is null)
      and metrics_updated_at <= metrics_checked_at)
)
-- Every capture rewrites the row (metrics_checked_at at least). None of those columns is
-- indexed, so with free space on the page the update is HOT (no index writes, pruned in place).
with (fillfactor = 85);

comment on table public.workspace_threads_posts is
  'Posts of a Threads account (never deleted). current_* are L3 of post metrics, the values of the latest snapshot; metrics_checked_at is the last capture, metrics_updated_at the last change.';
comment on column public.workspace_threads_posts.last_synced_at is
  'Fetch time of the stored content; upsert_posts refuses to overwrite it with an older fetch (stale-write guard).';

-- "An account's posts published since a date" (the metrics step's work list).
create index workspace_threads_posts_account_published_idx
  on public.workspace_threads_posts (workspace_threads_account_id, published_at desc);

alter table public.workspace_threads_posts enable row level security;
revoke all on table public.workspace_threads_posts from anon, authenticated;

/**
 * upsert_posts(p_account_id, p_posts, p_synced_at) -> jsonb
 *
 * Writes a batch of posts of one account, as fetched from the Threads API, in one statement.
 *
 * Args:
 *   p_account_id  the account (workspace_threads_accounts.id) the posts belong to
 *   p_posts       JSON array of objects {threads_post_id, text?, media_type?, permalink?,
 *                 shortcode?, is_quote_post?, published_at?}; other keys are ignored. A key
 *                 that is absent keeps the stored value; a key set to null stores NULL. When a
 *                 threads_post_id appears twice (overlapping pages), the last one wins.
 *   p_synced_at   when the batch was fetched (default now()). Stale-write guard: a stored post
 *                 fetched after this time is not overwritten (counted as "stale"); the same
 *                 time is the same fetch (a retry) and may write.
 *
 * Returns {"inserted": n, "updated": n, "unchanged": n, "stale": n}; "unchanged" posts are
 * not written at all (no dead tuple, last_synced_at stays).
 *
 * Raises:
 *   TS203  the account does not exist
 *   TS204  p_posts is not an array, or an element lacks a non-empty string threads_post_id
 *   (23514 when a value breaks a column check, e.g. a media_type in lower case)
 *
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.upsert_posts(
  p_account_id uuid,
  p_posts jsonb,
  p_synced_at timestamptz default now()
) returns jsonb
language plpgsql
volatile
set search_path = ''
-- enable_seqscan off for this function only: every table access here is by key, so a
-- sequential scan is never right; but a plan cached by the session while a table was nearly
-- empty would keep scanning it per row as it grows until the next ANALYZE (measured: a
-- metrics batch of 100 posts took 60 ms instead of 6 ms after a fresh start).
set enable_seqscan = off
as $$
declare
  bad_index bigint;
  result jsonb;
begin
  if p_synced_at is null then
    raise exception using errcode = 'TS204', message = 'p_synced_at must be a timestamp: current value is NULL';
  end if;
  if p_posts is null or jsonb_typeof(p_posts) <> 'array' then
    raise exception using errcode = 'TS204',
      message = format('p_posts must be a JSON array: current value is %s', left(coalesce(p_posts::text, 'NULL'), 80)),
      hint = case when jsonb_typeof(p_posts) = 'string' then
        'The argument is a JSON string holding JSON (encoded twice). Pass the array itself; with postgres.js: sql.json(value), not JSON.stringify(value).'
        else 'Expected: [{"threads_post_id": "...", "text": ...}, ...]' end;
  end if;
  if not exists (select from public.workspace_threads_accounts a where a.id = p_account_id) then
    raise exception using errcode = 'TS203',
      message = format('Cannot write posts as account %s does not exist', p_account_id);
  end if;

  select e.ord - 1 into bad_index
  from jsonb_array_elements(p_posts) with ordinality as e(item, ord)
  where jsonb_typeof(e.item) is distinct from 'object'
     or jsonb_typeof(e.item -> 'threads_post_id') is distinct from 'string'
     or btrim(e.item ->> 'threads_post_id') = ''
  order by e.ord
  limit 1;
  if found then
    raise exception using errcode = 'TS204',
      message = format('p_posts[%s] must be an object with a non-empty string threads_post_id', bad_index);
  end if;

  with input as (
    -- One row per post id, the last occurrence winning.
    select distinct on (r.threads_post_id) e.item, r.*
    from jsonb_array_elements(p_posts) with ordinality as e(item, ord)
    cross join lateral jsonb_to_record(e.item) as r(
      threads_post_id text, text text, media_type text, permalink text, shortcode text,
      is_quote_post boolean, published_at timestamptz)
    order by r.threads_post_id, e.ord desc
  ),
  merged as (
    -- The row as it would be after the write: present keys replace, absent keys keep.
    select
      i.threads_post_id,
      p.id as existing_id,
      p.last_synced_at as existing_synced_at,
      row(p.text, p.media_type, p.permalink, p.shortcode, p.is_quote_post, p.published_at) as old_content,
      case when i.item ? 'text' then i.text else p.text end as text,
      case when i.item ? 'media_type' then i.media_type else p.media_type end as media_type,
      case when i.item ? 'permalink' then i.permalink else p.permalink end as permalink,
      case when i.item ? 'shortcode' then i.shortcode else p.shortcode end as shortcode,
      case when i.item ? 'is_quote_post' then i.is_quote_post else p.is_quote_post end as is_quote_post,
      case when i.item ? 'published_at' then i.published_at else p.published_at end as published_at
    from input i
    -- A LATERAL probe by the full (account, threads_post_id) key whatever the statistics say
    -- (a plain join on stale statistics may probe by account alone and filter: O(batch x
    -- posts)); LIMIT 1 (the key is unique) keeps it from being flattened into such a join.
    left join lateral (
      select p.id, p.last_synced_at, p.text, p.media_type, p.permalink, p.shortcode,
        p.is_quote_post, p.published_at
      from public.workspace_threads_posts p
      where p.workspace_threads_account_id = p_account_id and p.threads_post_id = i.threads_post_id
      limit 1
    ) p on true
  ),
  classified as (
    select m.*,
      case
        when m.existing_id is null then 'inserted'
        when row(m.text, m.media_type, m.permalink, m.shortcode, m.is_quote_post, m.published_at)
             is not distinct from m.old_content then 'unchanged'
        when m.existing_synced_at > p_synced_at then 'stale'
        else 'updated'
      end as outcome
    from merged m
  ),
  written as (
    insert into public.workspace_threads_posts as p (
      workspace_threads_account_id, threads_post_id, text, media_type, permalink, shortcode,
      is_quote_post, published_at, last_synced_at)
    select p_account_id, c.threads_post_id, c.text, c.media_type, c.permalink, c.shortcode,
      c.is_quote_post, c.published_at, p_synced_at
    from classified c
    where c.outcome in ('inserted', 'updated')
    on conflict (workspace_threads_account_id, threads_post_id) do update
      set text = excluded.text,
          media_type = excluded.media_type,
          permalink = excluded.permalink,
          shortcode = excluded.shortcode,
          is_quote_post = excluded.is_quote_post,
          published_at = excluded.published_at,
          last_synced_at = excluded.last_synced_at
      -- Re-checked on the locked row: a concurrent newer write wins.
      where p.last_synced_at <= excluded.last_synced_at
    -- xmax = 0 on a freshly inserted tuple, the updating transaction's id on an updated one.
    returning (p.xmax = 0) as was_inserted
  )
  select jsonb_build_object(
    'inserted', (select count(*) from written w where w.was_inserted),
    'updated', (select count(*) from written w where not w.was_inserted),
    'unchanged', (select count(*) from classified c where c.outcome = 'unchanged'),
    -- A row classified as a write but refused by the guard on the locked row is stale too.
    'stale', (select count(*) from classified c where c.outcome <> 'unchanged')
             - (select count(*) from written))
  into result;
  return result;
end;
$$;

comment on function public.upsert_posts(uuid, jsonb, timestamptz) is
  'Set-based upsert of one account''s posts with a stale-write guard; returns {"inserted","updated","unchanged","stale"}. Raises TS203 (unknown account), TS204 (bad payload).';

revoke all on function public.upsert_posts(uuid, jsonb, timestamptz) from public, anon, authenticated;
grant execute on function public.upsert_posts(uuid, jsonb, timestamptz) to service_role;
