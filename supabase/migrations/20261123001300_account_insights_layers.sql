-- Account insights in three layers, the same design as post metrics (previous migration):
--
--   L1 workspace_threads_account_insights         immutable snapshot per capture that changed
--                                                 a value
--   L2 workspace_threads_account_insights_deltas  change from the previous snapshot of the
--                                                 same account
--   L3 workspace_threads_accounts.current_*       the latest snapshot's values
--
-- and public.record_account_insights() writes all three in one statement.
--
-- Same conventions: first snapshot's delta is the values (previous_snapshot_id NULL); NULL
-- (not reported) is never 0 and has a NULL delta; decreases give negative deltas. Note that
-- apart from followers_count the Threads user insights are totals over a time window (by
-- default yesterday through today), so they go down as the window moves: a negative delta of
-- views is normal there, not a correction.

create table public.workspace_threads_account_insights (
  id bigint generated always as identity primary key,
  captured_at timestamptz not null,
  workspace_threads_account_id uuid not null
    references public.workspace_threads_accounts (id) on delete restrict,
  followers_count bigint,
  views bigint,
  likes bigint,
  replies bigint,
  reposts bigint,
  quotes bigint,
  clicks bigint,
  -- One snapshot per account and capture time; INCLUDE (id) for the index-only "latest".
  constraint workspace_threads_account_insights_account_captured_key
    unique (workspace_threads_account_id, captured_at) include (id),
  constraint workspace_threads_account_insights_non_negative
    check (followers_count >= 0 and views >= 0 and likes >= 0 and replies >= 0
      and reposts >= 0 and quotes >= 0 and clicks >= 0)
);

comment on table public.workspace_threads_account_insights is
  'L1: immutable snapshots of an account''s insights, one per capture that changed a value (NULL = not reported). Written by record_account_insights.';

create table public.workspace_threads_account_insights_deltas (
  snapshot_id bigint primary key
    references public.workspace_threads_account_insights (id) on delete restrict,
  -- NULL for the first snapshot; unique: the snapshots of an account form a chain. No
  -- foreign key, as for post metrics: it would lock and dirty the previous snapshot's page
  -- on every insert, and L1 rows are never deleted but with their deltas (erase_workspace).
  previous_snapshot_id bigint unique,
  followers_count bigint,
  views bigint,
  likes bigint,
  replies bigint,
  reposts bigint,
  quotes bigint,
  clicks bigint,
  constraint workspace_threads_account_insights_deltas_previous_is_older
    check (previous_snapshot_id < snapshot_id)
);

comment on table public.workspace_threads_account_insights_deltas is
  'L2: change of each account-insights snapshot from the previous one (join L1 on snapshot_id). First snapshot: previous_snapshot_id NULL and delta = values. NULL in, NULL out.';

create trigger _100_refuse_change
  before update or delete or truncate on public.workspace_threads_account_insights
  for each statement execute function public.refuse_snapshot_change();
create trigger _100_refuse_change
  before update or delete or truncate on public.workspace_threads_account_insights_deltas
  for each statement execute function public.refuse_snapshot_change();

alter table public.workspace_threads_account_insights enable row level security;
alter table public.workspace_threads_account_insights_deltas enable row level security;
revoke all on table public.workspace_threads_account_insights,
  public.workspace_threads_account_insights_deltas from anon, authenticated;
revoke all on sequence public.workspace_threads_account_insights_id_seq from anon, authenticated;

/**
 * record_account_insights(p_account_id, p_captured_at, p_insights) -> jsonb
 *
 * Records one capture of an account's insights: L1 snapshot and L2 delta when a value
 * changed, L3 (workspace_threads_accounts.current_*, insights_updated_at,
 * insights_checked_at) always, in one statement.
 *
 * Outcome, exactly one of: snapshot (a value differs from the latest snapshot, or there is
 * none), unchanged (only insights_checked_at moves), stale (p_captured_at is not after
 * insights_checked_at: a retry or an overtaken capture; nothing written).
 *
 * Args:
 *   p_account_id   the account
 *   p_captured_at  when the API was asked; not in the future
 *   p_insights     JSON object {"followers_count"?, "views"?, "likes"?, "replies"?,
 *                  "reposts"?, "quotes"?, "clicks"?}: non-negative integers; absent or null
 *                  is stored as NULL (never 0); other keys are ignored
 *
 * Returns {"snapshots": 0|1, "deltas": 0|1, "unchanged": 0|1, "stale": 0|1,
 *          "accounts_updated": 0|1}.
 *
 * Raises:
 *   TS203  the account does not exist
 *   TS204  p_insights is not an object of integer metrics, or p_captured_at is NULL
 *   TS205  p_captured_at is more than 5 minutes in the future
 *
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.record_account_insights(
  p_account_id uuid,
  p_captured_at timestamptz,
  p_insights jsonb
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
  result jsonb;
begin
  if p_captured_at is null then
    raise exception using errcode = 'TS204', message = 'p_captured_at must be a timestamp: current value is NULL';
  end if;
  if p_captured_at > now() + interval '5 minutes' then
    raise exception using errcode = 'TS205',
      message = format('Cannot record insights captured in the future: p_captured_at is %s, the database time is %s',
        p_captured_at, now());
  end if;
  if p_insights is null or jsonb_typeof(p_insights) <> 'object' then
    raise exception using errcode = 'TS204',
      message = format('p_insights must be a JSON object: current value is %s', left(coalesce(p_insights::text, 'NULL'), 80)),
      hint = case when jsonb_typeof(p_insights) = 'string' then
        'The argument is a JSON string holding JSON (encoded twice). Pass the object itself; with postgres.js: sql.json(value), not JSON.stringify(value).'
        else 'Expected: {"followers_count": 1, "views": 1, ...}' end;
  end if;
  if not exists (select from public.workspace_threads_accounts a where a.id = p_account_id) then
    raise exception using errcode = 'TS203',
      message = format('Cannot record insights as account %s does not exist', p_account_id);
  end if;

  -- CASE, not OR, so a string is never cast to numeric.
  select format('p_insights.%s must be a non-negative integer or null: current value is %s', k.key, k.value)
  into problem
  from jsonb_each(p_insights) as k(key, value)
  where k.key in ('followers_count', 'views', 'likes', 'replies', 'reposts', 'quotes', 'clicks')
    and case
          when jsonb_typeof(k.value) = 'null' then false
          when jsonb_typeof(k.value) <> 'number' then true
          else k.value::numeric < 0 or k.value::numeric <> trunc(k.value::numeric)
        end
  order by k.key
  limit 1;
  if problem is not null then
    raise exception using errcode = 'TS204', message = problem;
  end if;

  with input as (
    select r.*
    from jsonb_to_record(p_insights) as r(
      followers_count bigint, views bigint, likes bigint, replies bigint, reposts bigint,
      quotes bigint, clicks bigint)
  ),
  classified as (
    select
      a.id as account_id,
      i.*,
      prev.id as prev_id,
      prev.followers_count as prev_followers_count, prev.views as prev_views,
      prev.likes as prev_likes, prev.replies as prev_replies, prev.reposts as prev_reposts,
      prev.quotes as prev_quotes, prev.clicks as prev_clicks,
      case
        when a.insights_checked_at >= p_captured_at then 'stale'
        when prev.id is not null
          and row(i.followers_count, i.views, i.likes, i.replies, i.reposts, i.quotes, i.clicks)
              is not distinct from
              row(prev.followers_count, prev.views, prev.likes, prev.replies, prev.reposts,
                  prev.quotes, prev.clicks)
          then 'unchanged'
        else 'snapshot'
      end as outcome
    from input i
    cross join public.workspace_threads_accounts a
    left join lateral (
      select s.id, s.followers_count, s.views, s.likes, s.replies, s.reposts, s.quotes, s.clicks
      from public.workspace_threads_account_insights s
      where s.workspace_threads_account_id = a.id
      order by s.captured_at desc
      limit 1
    ) prev on true
    where a.id = p_account_id
  ),
  new_snapshot as (
    insert into public.workspace_threads_account_insights (
      workspace_threads_account_id, captured_at, followers_count, views, likes, replies,
      reposts, quotes, clicks)
    select c.account_id, p_captured_at, c.followers_count, c.views, c.likes, c.replies,
      c.reposts, c.quotes, c.clicks
    from classified c
    where c.outcome = 'snapshot'
    returning id
  ),
  new_delta as (
    insert into public.workspace_threads_account_insights_deltas (
      snapshot_id, previous_snapshot_id, followers_count, views, likes, replies, reposts,
      quotes, clicks)
    select s.id, c.prev_id,
      -- First snapshot: delta from nothing. Otherwise new - previous (NULL if either is NULL).
      case when c.prev_id is null then c.followers_count else c.followers_count - c.prev_followers_count end,
      case when c.prev_id is null then c.views else c.views - c.prev_views end,
      case when c.prev_id is null then c.likes else c.likes - c.prev_likes end,
      case when c.prev_id is null then c.replies else c.replies - c.prev_replies end,
      case when c.prev_id is null then c.reposts else c.reposts - c.prev_reposts end,
      case when c.prev_id is null then c.quotes else c.quotes - c.prev_quotes end,
      case when c.prev_id is null then c.clicks else c.clicks - c.prev_clicks end
    from new_snapshot s
    cross join classified c
    returning snapshot_id
  ),
  current_values as (
    update public.workspace_threads_accounts a
    set current_followers_count = case when c.outcome = 'snapshot' then c.followers_count else a.current_followers_count end,
        current_views = case when c.outcome = 'snapshot' then c.views else a.current_views end,
        current_likes = case when c.outcome = 'snapshot' then c.likes else a.current_likes end,
        current_replies = case when c.outcome = 'snapshot' then c.replies else a.current_replies end,
        current_reposts = case when c.outcome = 'snapshot' then c.reposts else a.current_reposts end,
        current_quotes = case when c.outcome = 'snapshot' then c.quotes else a.current_quotes end,
        current_clicks = case when c.outcome = 'snapshot' then c.clicks else a.current_clicks end,
        insights_updated_at = case when c.outcome = 'snapshot' then p_captured_at else a.insights_updated_at end,
        insights_checked_at = p_captured_at
    from classified c
    where a.id = c.account_id
      and c.outcome <> 'stale'
      -- Re-evaluated on the locked row if a concurrent writer got there first.
      and (a.insights_checked_at is null or a.insights_checked_at < p_captured_at)
    returning a.id
  )
  select jsonb_build_object(
    'snapshots', (select count(*) from new_snapshot),
    'deltas', (select count(*) from new_delta),
    'unchanged', (select count(*) from classified c where c.outcome = 'unchanged'),
    'stale', (select count(*) from classified c where c.outcome = 'stale'),
    'accounts_updated', (select count(*) from current_values))
  into result;
  return result;
end;
$$;

comment on function public.record_account_insights(uuid, timestamptz, jsonb) is
  'Writes one capture of an account''s insights: L1 + L2 when a value changed, L3 always, one statement. Returns {"snapshots","deltas","unchanged","stale","accounts_updated"}. Raises TS203-TS205.';

revoke all on function public.record_account_insights(uuid, timestamptz, jsonb) from public, anon, authenticated;
grant execute on function public.record_account_insights(uuid, timestamptz, jsonb) to service_role;
