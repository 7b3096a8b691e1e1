-- The job lock (DESIGN 4.3): one row per job name, so scheduled runs never overlap.
--
-- A lock is a lease: the holder renews `expires_at` while it works (extend_job_lock) and
-- releases it at the end (release_job_lock). A lock past its `expires_at` belongs to a dead
-- worker and is taken over by the next claim, which learns whose run it was (took_over,
-- previous_run_id) so it can resume that run. Taking it is one `insert ... on conflict ... do
-- update ... where` statement: the row lock taken by ON CONFLICT makes two concurrent claims
-- serialise, and the second sees the first's lease and loses. Never two holders at once.
--
-- The row stays after release (released_at set), so the console shows who ran last.

create table public.system_job_locks (
  job_name text primary key,
  -- The holder's identity; unique per invocation (e.g. "scheduled-sync/<uuid>").
  locked_by text not null,
  locked_at timestamptz not null,
  -- Held while expires_at > now() and released_at is null.
  expires_at timestamptz not null,
  heartbeat_at timestamptz not null,
  -- The run (system_job_logs.id) working under this lock, if known. No foreign key: a caller
  -- may claim first and create the run's log row after, and old runs are deleted by
  -- retention while the lock row stays.
  run_id uuid,
  released_at timestamptz,
  -- Who held it before the current holder, and whether the current holder took it over from
  -- an expired, unreleased holder (that is, from a dead worker).
  previous_locked_by text,
  previous_run_id uuid,
  taken_over boolean not null default false,
  constraint system_job_locks_job_name_shape check (job_name ~ '^[a-z][a-z0-9_-]{0,62}$'),
  constraint system_job_locks_locked_by_not_blank check (btrim(locked_by) <> '')
);

comment on table public.system_job_locks is
  'One lease per job name (claim_job_lock / extend_job_lock / release_job_lock). Held while expires_at > now() and released_at is null; an expired unreleased lock belongs to a dead worker and is taken over.';

alter table public.system_job_locks enable row level security;
revoke all on table public.system_job_locks from anon, authenticated;

/**
 * claim_job_lock(p_job_name, p_holder, p_ttl, p_run_id, p_now)
 *   -> table (acquired boolean, previous_holder text, previous_run_id uuid, took_over boolean)
 *
 * Takes the lock `p_job_name` for `p_holder` until p_now + p_ttl, when it is free, released or
 * expired, in one atomic statement. Exactly one of two concurrent callers wins. Not
 * re-entrant: a holder that claims its own live lock gets acquired = false (renew with
 * extend_job_lock instead).
 *
 * Returns one row:
 *   acquired         true when the caller now holds the lock
 *   previous_holder  acquired: the holder it replaced (NULL for a new lock);
 *                    not acquired: the current holder
 *   previous_run_id  the run of that holder (NULL if none was recorded)
 *   took_over        true when the replaced holder had not released it (its lease expired:
 *                    a dead worker). The caller may resume previous_run_id, after checking
 *                    that run is still 'running' (close_stale_job_logs may have closed it).
 *
 * Raises: TS210 when p_job_name or p_holder is blank or p_ttl is not positive.
 * Who: the sync (postgres, service_role) and operators. Security invoker.
 */
create function public.claim_job_lock(
  p_job_name text,
  p_holder text,
  p_ttl interval,
  p_run_id uuid default null,
  p_now timestamptz default now()
) returns table (acquired boolean, previous_holder text, previous_run_id uuid, took_over boolean)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_column
begin
  if coalesce(btrim(p_job_name), '') = '' or coalesce(btrim(p_holder), '') = '' then
    raise exception using errcode = 'TS210',
      message = format('Cannot claim a job lock as the job name and holder must be non-empty: current values are %L and %L', p_job_name, p_holder);
  end if;
  if p_ttl is null or p_ttl <= interval '0' then
    raise exception using errcode = 'TS210',
      message = format('p_ttl must be a positive interval: current value is %s', coalesce(p_ttl::text, 'NULL'));
  end if;

  return query
    insert into public.system_job_locks as l (
      job_name, locked_by, locked_at, expires_at, heartbeat_at, run_id, released_at,
      previous_locked_by, previous_run_id, taken_over)
    values (p_job_name, p_holder, p_now, p_now + p_ttl, p_now, p_run_id, null, null, null, false)
    on conflict on constraint system_job_locks_pkey do update
      -- `l` is the existing row, locked and re-read at its latest committed version.
      set locked_by = excluded.locked_by,
          locked_at = excluded.locked_at,
          expires_at = excluded.expires_at,
          heartbeat_at = excluded.heartbeat_at,
          run_id = excluded.run_id,
          released_at = null,
          previous_locked_by = l.locked_by,
          previous_run_id = l.run_id,
          taken_over = (l.released_at is null)
      where l.released_at is not null or l.expires_at <= p_now
    returning true, l.previous_locked_by, l.previous_run_id, l.taken_over;
  if found then
    return;
  end if;

  -- Lost: report the live holder (a new statement, so it sees the winner's committed row).
  return query
    select false, l.locked_by, l.run_id, false
    from public.system_job_locks l
    where l.job_name = p_job_name;
end;
$$;

comment on function public.claim_job_lock(text, text, interval, uuid, timestamptz) is
  'Atomically takes a free, released or expired job lock; returns (acquired, previous_holder, previous_run_id, took_over). Raises TS210 on blank names or a non-positive TTL.';

/**
 * extend_job_lock(p_job_name, p_holder, p_ttl, p_run_id, p_now) -> boolean
 *
 * The holder's heartbeat: sets expires_at = p_now + p_ttl (and run_id when p_run_id is given),
 * and renews heartbeat_at of the run's system_job_logs row. Only a live lease can be
 * extended: once expired it may already belong to someone else, and the caller must stop.
 *
 * Returns true when extended; false when p_holder does not hold a live lock of p_job_name
 * (released, expired, taken over, or never held).
 * Raises: TS210 when p_ttl is not positive.
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.extend_job_lock(
  p_job_name text,
  p_holder text,
  p_ttl interval,
  p_run_id uuid default null,
  p_now timestamptz default now()
) returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  lock_run_id uuid;
begin
  if p_ttl is null or p_ttl <= interval '0' then
    raise exception using errcode = 'TS210',
      message = format('p_ttl must be a positive interval: current value is %s', coalesce(p_ttl::text, 'NULL'));
  end if;

  update public.system_job_locks l
  set expires_at = p_now + p_ttl,
      heartbeat_at = p_now,
      run_id = coalesce(p_run_id, l.run_id)
  where l.job_name = p_job_name
    and l.locked_by = p_holder
    and l.released_at is null
    and l.expires_at > p_now
  returning l.run_id into lock_run_id;
  if not found then
    return false;
  end if;

  -- The run is alive as long as its lock is: one heartbeat for both. Skipped when renewed in
  -- the last 15 s, to keep the log row from churning.
  update public.system_job_logs j
  set heartbeat_at = p_now
  where j.id = lock_run_id and j.status = 'running' and j.heartbeat_at < p_now - interval '15 seconds';
  return true;
end;
$$;

comment on function public.extend_job_lock(text, text, interval, uuid, timestamptz) is
  'Heartbeat: extends a live job lock held by p_holder (and its run''s heartbeat_at); false when the caller no longer holds it.';

/**
 * release_job_lock(p_job_name, p_holder, p_now) -> boolean
 *
 * Releases the lock at the end of a run (released_at = p_now, expires_at no later than p_now),
 * so the next claim gets it at once and took_over is false for it.
 *
 * Returns true when released; false, changing nothing, when p_holder does not hold it (another
 * holder, already released, or taken over after expiry).
 * Who: the sync (postgres, service_role) and operators. Security invoker.
 */
create function public.release_job_lock(
  p_job_name text,
  p_holder text,
  p_now timestamptz default now()
) returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.system_job_locks l
  set released_at = p_now,
      expires_at = least(l.expires_at, p_now)
  where l.job_name = p_job_name
    and l.locked_by = p_holder
    and l.released_at is null;
  return found;
end;
$$;

comment on function public.release_job_lock(text, text, timestamptz) is
  'Releases a job lock; only its holder can (anyone else gets false and nothing changes).';

revoke all on function public.claim_job_lock(text, text, interval, uuid, timestamptz) from public, anon, authenticated;
revoke all on function public.extend_job_lock(text, text, interval, uuid, timestamptz) from public, anon, authenticated;
revoke all on function public.release_job_lock(text, text, timestamptz) from public, anon, authenticated;
grant execute on function public.claim_job_lock(text, text, interval, uuid, timestamptz) to service_role;
grant execute on function public.extend_job_lock(text, text, interval, uuid, timestamptz) to service_role;
grant execute on function public.release_job_lock(text, text, timestamptz) to service_role;
