-- Post metrics in three layers (DESIGN 4.2), and public.record_post_metrics(), the one call per
-- account batch that writes all three in one statement.
--
--   L1 workspace_threads_post_metrics         one row per capture that changed something:
--                                             what the API said at captured_at. Insert only.
--   L2 workspace_threads_post_metrics_deltas  one row per L1 row: the change from the previous
--                                             snapshot of the same post. Insert only.
--   L3 workspace_threads_posts.current_*      the latest snapshot's values, for fast queries.
--
-- Storage: a post synced every 15 minutes is captured 96 times a day. A snapshot is written
-- only when a value changed; a capture that changed nothing only moves
-- workspace_threads_posts.metrics_checked_at. docs/database.md gives the yearly figure.
--
-- Conventions (relied on by readers of L2):
--   * First snapshot of a post: previous_snapshot_id is NULL and the delta is the values
--     themselves ("delta from nothing"), so the deltas of a post add up to its latest values
--     (where no NULL interrupts the chain).
--   * A value that decreased gives a negative delta (views can be corrected downwards).
--   * A NULL metric (absent from the API answer) is stored as NULL, never 0, and its delta is
--     NULL; so is the delta of a metric whose previous value was NULL.

/**
 * refuse_snapshot_change() -> trigger
 *
 * Statement-level BEFORE UPDATE/DELETE/TRUNCATE trigger of the L1 and L2 tables (posts and
 * account insights): snapshots and deltas are insert-only, so any such statement fails, even
 * one that matches no row.
 *
 * The single exception is DELETE while the transaction-local setting
 * `threads_sync.erasing` is 'on', which only public.erase_workspace() sets (a deliberate
 * removal of a customer's data). This is a guard against mistakes, not a security
 * boundary: the table owner can always disable a trigger.
 *
 * Raises: TS201 always, except in the case above.
 * Who: fired by the tables' triggers only; nobody executes it directly.
 */
create function public.refuse_snapshot_change() returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if tg_op = 'DELETE' and current_setting('threads_sync.erasing', true) = 'on' then
    return null;
  end if;
  raise exception using
    errcode = 'TS201',
    message = format('Cannot %s %s as snapshots and deltas are immutable (insert only)',
      lower(tg_op), tg_table_name),
    hint = 'A correction is a new capture; removing a workspace''s data is public.erase_workspace().';
end;
$$;

comment on function public.refuse_snapshot_change() is
  'Trigger: refuses UPDATE/DELETE/TRUNCATE on L1/L2 tables with TS201 (DELETE allowed only inside erase_workspace).';

revoke all on function public.refuse_snapshot_change() from public, anon, authenticated, service_role;

create table public.workspace_threads_post_metrics (
  -- bigint identity, not uuid: the table grows by up to 96 rows per post a day, and an
  -- ordered 8-byte key keeps rows and indexes small.
  id bigint generated always as identity primary key,
  captured_at timestamptz not null,
  workspace_threads_post_id uuid not null
    references public.workspace_threads_posts (id) on delete restrict,
  views bigint,
  likes bigint,
  replies bigint,
  reposts bigint,
  quotes bigint,
  shares bigint,
  -- One snapshot per post and capture time: a retried capture cannot duplicate. INCLUDE (id)
  -- makes "the latest snapshot of a post" an index-only lookup.
  constraint workspace_threads_post_metrics_post_captured_key
    unique (workspace_threads_post_id, captured_at) include (id),
  -- Counts. NULL (not reported) passes a check; a negative number does not.
  constraint workspace_threads_post_metrics_non_negative
    check (views >= 0 and likes >= 0 and replies >= 0 and reposts >= 0 and quotes >= 0
      and shares >= 0)
);

comment on table public.workspace_threads_post_metrics is
  'L1: immutable snapshots of a post''s metrics, one per capture that changed a value (NULL = not reported by the API). Written by record_post_metrics.';

create table public.workspace_threads_post_metrics_deltas (
  -- An L2 row belongs to exactly one L1 row.
  snapshot_id bigint primary key
    references public.workspace_threads_post_metrics (id) on delete restrict,
  -- The post's snapshot before this one; NULL for its first. Unique: the snapshots of a
  -- post form a chain, so a snapshot is the predecessor of at most one other (two concurrent
  -- writers of one post cannot both succeed).
  -- No foreign key, on purpose: its check would lock, and so dirty and WAL-log, the previous
  -- snapshot's (old) page on every insert, for no protection: record_post_metrics reads the
  -- id from L1 itself, and L1 rows are never deleted (trigger below; erase_workspace removes
  -- a workspace's deltas before its snapshots).
  previous_snapshot_id bigint unique,
  views bigint,
  likes bigint,
  replies bigint,
  reposts bigint,
  quotes bigint,
  shares bigint,
  -- Identity values are handed out in order, and the previous snapshot was committed before
  -- this one was written.
  constraint workspace_threads_post_metrics_deltas_previous_is_older
    check (previous_snapshot_id < snapshot_id)
);

comment on table public.workspace_threads_post_metrics_deltas is
  'L2: change of each post snapshot from the previous one (join L1 on snapshot_id). First snapshot: previous_snapshot_id NULL and delta = values. NULL metric or NULL previous value: NULL delta.';

create trigger _100_refuse_change
  before update or delete or truncate on public.workspace_threads_post_metrics
  for each statement execute function public.refuse_snapshot_change();
create trigger _100_refuse_change
  before update or delete or truncate on public.workspace_threads_post_metrics_deltas
  for each statement execute function public.refuse_snapshot_change();

alter table public.workspace_threads_post_metrics enable row level security;
alter table public.workspace_threads_post_metrics_deltas enable row level security;
revoke all on table public.workspace_threads_post_metrics,
  public.workspace_threads_post_metrics_deltas from anon, authenticated;
-- The identity column's sequence gets the same default grants as a table.
revoke all on sequence public.workspace_threads_post_metrics_id_seq from anon, authenticated;

/**
 * record_post_metrics(p_account_id, p_captured_at, p_metrics) -> jsonb
 *
 * Records one capture of the metrics of a batch of posts of one account: L1 snapshots, L2
 * deltas and L3 current values, in a single statement (so in the caller's transaction,
 * all or nothing). Set-based: one call, one round trip, any number of posts.
 *
 * Per post, exactly one of:
 *   snapshot   a value differs from the latest snapshot (or there is none): L1 + L2 rows,
 *              current_* and metrics_updated_at set, metrics_checked_at = p_captured_at;
 *   unchanged  same values as the latest snapshot: no L1/L2 row, only metrics_checked_at moves;
 *   stale      p_captured_at is not after the post's metrics_checked_at (a retry of the same
 *              capture, or a late capture overtaken by a newer one): nothing is written.
 *
 * Args:
 *   p_account_id   the account the posts belong to
 *   p_captured_at  when the API was asked (the same for the whole batch); not in the future
 *   p_metrics      JSON array of {"threads_post_id": text, "views"?, "likes"?, "replies"?,
 *                  "reposts"?, "quotes"?, "shares"?}: non-negative integers; an absent key or
 *                  null is stored as NULL (never 0). A repeated threads_post_id: the last wins.
 *
 * Returns {"snapshots": n, "deltas": n, "unchanged": n, "stale": n, "posts_updated": n}.
 *
 * Raises (and writes nothing of the call):
 *   TS202  a threads_post_id is not a post of p_account_id (upsert the posts first)
 *   TS203  the account does not exist
 *   TS204  p_metrics is not an array of objects with a string threads_post_id and integer
 *          metrics, or p_captured_at is NULL
 *   TS205  p_captured_at is more than 5 minutes in the future (a wrong clock would freeze the
 *          post: every later capture would count as stale)
 *
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.record_post_metrics(
  p_account_id uuid,
  p_captured_at timestamptz,
  p_metrics jsonb
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
  problem text;
  bad_count bigint;
  unknown_ids text[];
  unknown_count bigint;
  result jsonb;
begin
  if p_captured_at is null then
    raise exception using errcode = 'TS204', message = 'p_captured_at must be a timestamp: current value is NULL';
  end if;
  if p_captured_at > now() + interval '5 minutes' then
    raise exception using errcode = 'TS205',
      message = format('Cannot record metrics captured in the future: p_captured_at is %s, the database time is %s',
        p_captured_at, now());
  end if;
  if p_metrics is null or jsonb_typeof(p_metrics) <> 'array' then
    raise exception using errcode = 'TS204',
      message = format('p_metrics must be a JSON array: current value is %s', left(coalesce(p_metrics::text, 'NULL'), 80)),
      hint = case when jsonb_typeof(p_metrics) = 'string' then
        'The argument is a JSON string holding JSON (encoded twice). Pass the array itself; with postgres.js: sql.json(value), not JSON.stringify(value).'
        else 'Expected: [{"threads_post_id": "...", "views": 1, ...}, ...]' end;
  end if;
  if not exists (select from public.workspace_threads_accounts a where a.id = p_account_id) then
    raise exception using errcode = 'TS203',
      message = format('Cannot record metrics as account %s does not exist', p_account_id);
  end if;

  -- One statement validates, classifies and writes the three layers; the checks that need
  -- its results (bad elements, posts of other accounts) raise right after it, which undoes
  -- its writes as well (they belong to the caller's statement), so nothing of a refused call
  -- remains and an accepted call pays for one pass over the input.
  with typed as materialized (
    -- Each element's fields extracted in one pass (jsonb_to_record), numbers as numeric and
    -- anything else as NULL, computed once (materialized); `well_typed` says whether the
    -- element is an object with a non-empty string id and only numbers or nulls as metrics.
    -- (CASE, never a bare cast: a string must not reach ::numeric.)
    select e.ord,
      case when jsonb_typeof(r.threads_post_id) = 'string' then r.threads_post_id #>> '{}' end as threads_post_id,
      case when jsonb_typeof(r.views) = 'number' then r.views::numeric end as n_views,
      case when jsonb_typeof(r.likes) = 'number' then r.likes::numeric end as n_likes,
      case when jsonb_typeof(r.replies) = 'number' then r.replies::numeric end as n_replies,
      case when jsonb_typeof(r.reposts) = 'number' then r.reposts::numeric end as n_reposts,
      case when jsonb_typeof(r.quotes) = 'number' then r.quotes::numeric end as n_quotes,
      case when jsonb_typeof(r.shares) = 'number' then r.shares::numeric end as n_shares,
      coalesce(jsonb_typeof(e.item) = 'object'
        and jsonb_typeof(r.threads_post_id) = 'string' and btrim(r.threads_post_id #>> '{}') <> ''
        and coalesce(jsonb_typeof(r.views), 'number') = 'number'
        and coalesce(jsonb_typeof(r.likes), 'number') = 'number'
        and coalesce(jsonb_typeof(r.replies), 'number') = 'number'
        and coalesce(jsonb_typeof(r.reposts), 'number') = 'number'
        and coalesce(jsonb_typeof(r.quotes), 'number') = 'number'
        and coalesce(jsonb_typeof(r.shares), 'number') = 'number', false) as well_typed
    from jsonb_array_elements(p_metrics) with ordinality as e(item, ord)
    -- (JSON null arrives as SQL NULL; a non-object element is read as {} and flagged above.)
    cross join lateral jsonb_to_record(case when jsonb_typeof(e.item) = 'object' then e.item else '{}' end) as r(
      threads_post_id jsonb, views jsonb, likes jsonb, replies jsonb, reposts jsonb, quotes jsonb, shares jsonb)
  ),
  checked as materialized (
    -- A count is a whole number from 0 to bigint's maximum.
    select t.ord, t.threads_post_id, t.n_views, t.n_likes, t.n_replies, t.n_reposts, t.n_quotes, t.n_shares,
      t.well_typed
        and coalesce(t.n_views between 0 and 9223372036854775807 and t.n_views = trunc(t.n_views), true)
        and coalesce(t.n_likes between 0 and 9223372036854775807 and t.n_likes = trunc(t.n_likes), true)
        and coalesce(t.n_replies between 0 and 9223372036854775807 and t.n_replies = trunc(t.n_replies), true)
        and coalesce(t.n_reposts between 0 and 9223372036854775807 and t.n_reposts = trunc(t.n_reposts), true)
        and coalesce(t.n_quotes between 0 and 9223372036854775807 and t.n_quotes = trunc(t.n_quotes), true)
        and coalesce(t.n_shares between 0 and 9223372036854775807 and t.n_shares = trunc(t.n_shares), true)
        as ok
    from typed t
  ),
  input as (
    -- One row per post id, the last occurrence winning; only valid elements.
    select distinct on (c.threads_post_id) c.threads_post_id,
      c.n_views::bigint as views, c.n_likes::bigint as likes, c.n_replies::bigint as replies,
      c.n_reposts::bigint as reposts, c.n_quotes::bigint as quotes, c.n_shares::bigint as shares
    from checked c
    where c.ok
    order by c.threads_post_id, c.ord desc
  ),
  matched as (
    select
      p.id as post_id,
      i.views, i.likes, i.replies, i.reposts, i.quotes, i.shares,
      prev.id as prev_id,
      prev.views as prev_views, prev.likes as prev_likes, prev.replies as prev_replies,
      prev.reposts as prev_reposts, prev.quotes as prev_quotes, prev.shares as prev_shares,
      case
        when p.metrics_checked_at >= p_captured_at then 'stale'
        when prev.id is not null
          and row(i.views, i.likes, i.replies, i.reposts, i.quotes, i.shares)
              is not distinct from
              row(prev.views, prev.likes, prev.replies, prev.reposts, prev.quotes, prev.shares)
          then 'unchanged'
        else 'snapshot'
      end as outcome
    from input i
    -- A LATERAL probe by the full (account, threads_post_id) key whatever the statistics
    -- say: as a plain join on stale statistics ("the account has one post") the planner may
    -- probe by account alone and filter, which is O(batch x posts). LIMIT 1 (the key is
    -- unique) keeps the planner from flattening it back into such a join.
    cross join lateral (
      select p.id, p.metrics_checked_at
      from public.workspace_threads_posts p
      where p.workspace_threads_account_id = p_account_id and p.threads_post_id = i.threads_post_id
      limit 1
    ) p
    -- The latest snapshot: the source of truth for the delta and the change test (a probe of
    -- the (post, captured_at) key, backwards).
    left join lateral (
      select m.id, m.views, m.likes, m.replies, m.reposts, m.quotes, m.shares
      from public.workspace_threads_post_metrics m
      where m.workspace_threads_post_id = p.id
      order by m.captured_at desc
      limit 1
    ) prev on true
  ),
  classified as materialized (
    -- Snapshot ids are drawn here (materialized: once per row), so the L1 and L2 inserts both
    -- read this CTE; joining the two inserts' outputs instead costs O(batch^2), as the
    -- planner cannot estimate a CTE's size.
    select m.*,
      case when m.outcome = 'snapshot'
        then nextval('public.workspace_threads_post_metrics_id_seq'::regclass) end as snapshot_id
    from matched m
  ),
  new_snapshots as (
    insert into public.workspace_threads_post_metrics (
      id, workspace_threads_post_id, captured_at, views, likes, replies, reposts, quotes, shares)
    overriding system value
    select c.snapshot_id, c.post_id, p_captured_at, c.views, c.likes, c.replies, c.reposts, c.quotes, c.shares
    from classified c
    where c.outcome = 'snapshot'
    returning 1
  ),
  new_deltas as (
    insert into public.workspace_threads_post_metrics_deltas (
      snapshot_id, previous_snapshot_id, views, likes, replies, reposts, quotes, shares)
    select c.snapshot_id, c.prev_id,
      -- First snapshot: delta from nothing. Otherwise new - previous (NULL if either is NULL).
      case when c.prev_id is null then c.views else c.views - c.prev_views end,
      case when c.prev_id is null then c.likes else c.likes - c.prev_likes end,
      case when c.prev_id is null then c.replies else c.replies - c.prev_replies end,
      case when c.prev_id is null then c.reposts else c.reposts - c.prev_reposts end,
      case when c.prev_id is null then c.quotes else c.quotes - c.prev_quotes end,
      case when c.prev_id is null then c.shares else c.shares - c.prev_shares end
    from classified c
    where c.outcome = 'snapshot'
    returning 1
  ),
  current_values as (
    update public.workspace_threads_posts p
    set current_views = case when c.outcome = 'snapshot' then c.views else p.current_views end,
        current_likes = case when c.outcome = 'snapshot' then c.likes else p.current_likes end,
        current_replies = case when c.outcome = 'snapshot' then c.replies else p.current_replies end,
        current_reposts = case when c.outcome = 'snapshot' then c.reposts else p.current_reposts end,
        current_quotes = case when c.outcome = 'snapshot' then c.quotes else p.current_quotes end,
        current_shares = case when c.outcome = 'snapshot' then c.shares else p.current_shares end,
        metrics_updated_at = case when c.outcome = 'snapshot' then p_captured_at else p.metrics_updated_at end,
        metrics_checked_at = p_captured_at
    from classified c
    where p.id = c.post_id
      and c.outcome <> 'stale'
      -- Re-evaluated on the locked row if a concurrent writer got there first: never move
      -- the post backwards in time.
      and (p.metrics_checked_at is null or p.metrics_checked_at < p_captured_at)
    returning 1
  )
  select jsonb_build_object(
    'snapshots', (select count(*) from new_snapshots),
    'deltas', (select count(*) from new_deltas),
    'unchanged', (select count(*) from classified c where c.outcome = 'unchanged'),
    'stale', (select count(*) from classified c where c.outcome = 'stale'),
    'posts_updated', (select count(*) from current_values)),
    (select count(*) from checked c where not c.ok),
    (select count(*) from input) - (select count(*) from classified)
  into result, bad_count, unknown_count;

  if bad_count > 0 then
    -- Name the first bad element (slow, but only on this path).
    select format('p_metrics[%s]%s', e.ord - 1, x.problem)
    into problem
    from jsonb_array_elements(p_metrics) with ordinality as e(item, ord)
    cross join lateral (
      select case
        when jsonb_typeof(e.item) is distinct from 'object' then ' must be an object'
        when jsonb_typeof(e.item -> 'threads_post_id') is distinct from 'string'
          or btrim(e.item ->> 'threads_post_id') = ''
          then '.threads_post_id must be a non-empty string'
        else (
          select format('.%s must be a non-negative integer or null: current value is %s', k.key, k.value)
          from jsonb_each(e.item) as k(key, value)
          where k.key in ('views', 'likes', 'replies', 'reposts', 'quotes', 'shares')
            and case
                  when jsonb_typeof(k.value) = 'null' then false
                  when jsonb_typeof(k.value) <> 'number' then true
                  else k.value::numeric < 0 or k.value::numeric <> trunc(k.value::numeric)
                    or k.value::numeric > 9223372036854775807
                end
          order by k.key
          limit 1)
      end as problem
    ) x
    where x.problem is not null
    order by e.ord
    limit 1;
    raise exception using errcode = 'TS204', message = problem;
  end if;

  -- Every post must belong to this account: a batch mixing accounts is a bug in the caller,
  -- and writing part of it would hide that.
  if unknown_count > 0 then
    select (array_agg(w.threads_post_id order by w.threads_post_id))[1:5]
    into unknown_ids
    from (select distinct e.item ->> 'threads_post_id' as threads_post_id
          from jsonb_array_elements(p_metrics) as e(item)) w
    where not exists (
      select from public.workspace_threads_posts p
      where p.workspace_threads_account_id = p_account_id and p.threads_post_id = w.threads_post_id);
    raise exception using
      errcode = 'TS202',
      message = format('Cannot record metrics as %s post(s) are not posts of account %s: %s',
        unknown_count, p_account_id, array_to_string(unknown_ids, ', ')),
      hint = 'Write the posts with public.upsert_posts() first; metrics of another account''s posts are never accepted.';
  end if;
  return result;
end;
$$;

comment on function public.record_post_metrics(uuid, timestamptz, jsonb) is
  'Writes one capture of a batch of one account''s post metrics: L1 snapshot + L2 delta where a value changed, L3 always, one statement. Returns {"snapshots","deltas","unchanged","stale","posts_updated"}. Raises TS202-TS205.';

revoke all on function public.record_post_metrics(uuid, timestamptz, jsonb) from public, anon, authenticated;
grant execute on function public.record_post_metrics(uuid, timestamptz, jsonb) to service_role;
