-- One Threads API rate for the whole app, across invocations (issue 12, item 4).
--
-- THREADS_API_MAX_RPS is an app-wide ceiling, but until now each invocation paced only its
-- own calls: several invocations of a run side by side, a manual sync, token refresh and
-- connect-account together could send several times the limit. The invocations share
-- nothing but this database, so the rate lives here:
--
--   threads_api_rate_limits   one row per limit ('app'): the next free send time and a
--                             pause every caller honours
--   claim_api_slots()         hands out the next p_count send times, spaced 1/rps apart,
--                             and moves the row on; the only writer of next_slot_at
--   pause_api_calls()         an app-level rate-limit answer pauses every caller; the only
--                             writer of paused_until
--
-- Callers claim a handful of slots at a time (about 150 ms worth, _shared/api-rate-slots.ts),
-- not one per request, and wait until each slot's time before sending. Unused slots are
-- dropped, never returned: their time passes and the rate they stood for is lost, which
-- keeps every claim one short statement on one row. Since each slot is at least 1/rps after
-- the one before it, whoever claimed it, any one-second window holds at most rps slots.
--
-- Time is clock_timestamp(), not now(): a claim's "now" is when it runs, not when its
-- transaction began.

create table public.threads_api_rate_limits (
  name text primary key,
  -- The earliest time the next slot may be handed out.
  next_slot_at timestamptz not null default '-infinity',
  -- No slot before this time (an app-level rate-limit answer); NULL when never paused.
  paused_until timestamptz,
  -- The rate of the last claim (requests per second), for an operator reading the row.
  last_rps numeric,
  updated_at timestamptz not null default clock_timestamp(),
  constraint threads_api_rate_limits_name_shape check (name ~ '^[a-z][a-z0-9_]{0,62}$')
)
-- Updated many times a second: room on the page keeps the updates HOT (no index changes).
with (fillfactor = 50);

comment on table public.threads_api_rate_limits is
  'One row per Threads API rate limit (''app''): the next free send time and the pause every caller honours. Written only by claim_api_slots() and pause_api_calls().';

alter table public.threads_api_rate_limits enable row level security;
revoke all on table public.threads_api_rate_limits from anon, authenticated, service_role;

insert into public.threads_api_rate_limits (name) values ('app');

/**
 * claim_api_slots(p_count, p_rps, p_now) -> timestamptz[]
 *
 * The next p_count send times of the app's Threads API budget, in order: the first at
 * max(p_now, the row's next_slot_at, paused_until), each later one a step after the one
 * before, the step being 1/p_rps rounded up to a whole microsecond (never faster than asked).
 * next_slot_at moves to one step after the last, in the same statement, so concurrent
 * callers serialise on the row and their slots never interleave closer than one step.
 * Time not claimed is not banked: after a quiet spell the next slot is p_now, not the past.
 *
 * The caller sends no request before its slot's time and drops slots it cannot use.
 *
 * Raises: TS240 when p_count is not in 1..1000, p_rps not in (0, 100000], or p_now is NULL.
 * Who: the Edge Functions (postgres). Security invoker.
 */
create function public.claim_api_slots(
  p_count integer,
  p_rps numeric,
  p_now timestamptz default clock_timestamp()
) returns timestamptz[]
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_step interval;
  v_first timestamptz;
begin
  if p_count is null or p_count < 1 or p_count > 1000 then
    raise exception using errcode = 'TS240',
      message = format('p_count must be between 1 and 1000: current value is %s', coalesce(p_count::text, 'NULL'));
  end if;
  if p_rps is null or p_rps <= 0 or p_rps > 100000 then
    raise exception using errcode = 'TS240',
      message = format('p_rps must be above 0 and at most 100000: current value is %s', coalesce(p_rps::text, 'NULL'));
  end if;
  if p_now is null then
    raise exception using errcode = 'TS240', message = 'p_now must not be NULL';
  end if;
  v_step := ceil(1000000 / p_rps)::bigint * interval '1 microsecond';
  -- One statement: the upsert's row lock orders concurrent claims (and recreates the row if
  -- an operator deleted it).
  insert into public.threads_api_rate_limits as r (name, next_slot_at, last_rps, updated_at)
  values ('app', p_now + p_count * v_step, p_rps, p_now)
  on conflict (name) do update
    set next_slot_at = greatest(p_now, r.next_slot_at, r.paused_until) + p_count * v_step,
        last_rps = p_rps,
        updated_at = p_now
  returning r.next_slot_at - p_count * v_step into v_first;
  return array(select v_first + i * v_step from generate_series(0, p_count - 1) as i order by i);
end;
$$;

comment on function public.claim_api_slots(integer, numeric, timestamptz) is
  'The next p_count Threads API send times of the app, spaced 1/p_rps apart (rounded up to a microsecond), from max(p_now, next free, paused_until); advances the row. Raises TS240 on bad arguments.';

/**
 * pause_api_calls(p_for, p_now) -> timestamptz
 *
 * Pauses every caller of claim_api_slots until p_now + p_for (never shortens a longer pause
 * already set), and returns the time the pause ends. Called when the API answers an app-level
 * rate limit (Graph code 4) with no stated wait, or a short one: every invocation stops for
 * the cool-down, not only the one that was told.
 *
 * Raises: TS240 when p_for is not in (0, 10 minutes] or p_now is NULL.
 * Who: the Edge Functions (postgres). Security invoker.
 */
create function public.pause_api_calls(
  p_for interval,
  p_now timestamptz default clock_timestamp()
) returns timestamptz
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_until timestamptz;
begin
  if p_for is null or p_for <= interval '0' or p_for > interval '10 minutes' then
    raise exception using errcode = 'TS240',
      message = format('p_for must be above 0 and at most 10 minutes: current value is %s', coalesce(p_for::text, 'NULL'));
  end if;
  if p_now is null then
    raise exception using errcode = 'TS240', message = 'p_now must not be NULL';
  end if;
  insert into public.threads_api_rate_limits as r (name, paused_until, updated_at)
  values ('app', p_now + p_for, p_now)
  on conflict (name) do update
    set paused_until = greatest(r.paused_until, p_now + p_for),
        updated_at = p_now
  returning r.paused_until into v_until;
  return v_until;
end;
$$;

comment on function public.pause_api_calls(interval, timestamptz) is
  'Pauses every Threads API caller until p_now + p_for (an app-level rate-limit answer); returns when the pause ends. Raises TS240 on bad arguments.';

-- The functions connect as postgres; no API role paces or pauses the app's calls
-- (20261130002100's rule: service_role executes no project function).
revoke all on function public.claim_api_slots(integer, numeric, timestamptz)
from public, anon, authenticated, service_role;
revoke all on function public.pause_api_calls(interval, timestamptz)
from public, anon, authenticated, service_role;
