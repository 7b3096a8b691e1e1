-- One run lifecycle for every job type. The sync (scheduled_sync, manual_sync) and token
-- refresh (token_refresh) start, resume, skip, continue and hand off their runs the same way;
-- until now each had its own near-copy of that logic (20261123002000 and 20261123003300). The
-- job type decides only two things: the lock a run holds (job_run_lock) and the function its
-- continuations go to (job_run_function).
--
--   begin_job_run      start a run, resume a dead one, or record a skipped one (one transaction)
--   continue_job_run   a fresh invocation joins a running run of one of the expected job types
--   hand_off_job_run   queue the run's continuation through pg_net (sent at commit)
--
-- begin_sync_run, continue_sync_run, hand_off_sync_run, begin_token_refresh_run and
-- hand_off_token_refresh_run keep their names and signatures and are now thin calls of these.
-- The two finish functions stay their own: a sync counts sync_run_accounts, a token refresh its
-- sync_logs rows.

/** job_run_lock(p_job_type) -> text: the lock a run of this type holds (NULL: none). */
create function public.job_run_lock(p_job_type text) returns text
language sql
immutable
set search_path = ''
as $$
  select case p_job_type
    when 'scheduled_sync' then 'scheduled_sync'
    when 'token_refresh' then 'token_refresh'
  end;
$$;

/** job_run_function(p_job_type) -> text: the Edge Function that works runs of this type. */
create function public.job_run_function(p_job_type text) returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when p_job_type in ('scheduled_sync', 'manual_sync') then 'scheduled-sync'
    when p_job_type = 'token_refresh' then 'token-refresh'
  end;
$$;

comment on function public.job_run_lock(text) is
  'The job lock a run of this job type holds (scheduled_sync, token_refresh), NULL for manual_sync.';
comment on function public.job_run_function(text) is
  'The Edge Function that works runs of this job type (scheduled-sync, token-refresh).';

/**
 * begin_job_run(p_job_type, p_trigger, p_request, p_ttl, p_now)
 *   -> table (outcome text, run_id uuid, other_run_id uuid)
 *
 * A job type without a lock (manual_sync): always 'started'. Otherwise its lock row is read
 * FOR UPDATE, so concurrent triggers take turns:
 *   lock live (another run's worker renews it)   -> 'skipped': a skipped log row (metadata
 *     held_by_run names the running run); other_run_id = that run
 *   lock expired, its run still 'running'         -> 'resumed': the lock is taken over in that
 *     run's name, invocations + 1, metadata.interruptions + 1; run_id = that run
 *   otherwise                                      -> 'started': a new run and its lock (a trigger
 *     that loses the race for a lock row that did not exist yet records a skipped run instead)
 * The lock is held in the run's name ('run:<id>'), so every invocation of the run renews it.
 * Raises: TS220 when p_job_type is not scheduled_sync, manual_sync or token_refresh.
 * Who: the functions (postgres). Security invoker.
 */
create function public.begin_job_run(
  p_job_type text,
  p_trigger text,
  p_request jsonb,
  p_ttl interval,
  p_now timestamptz default now()
) returns table (outcome text, run_id uuid, other_run_id uuid)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_variable
declare
  lock_name text := public.job_run_lock(p_job_type);
  lock_row public.system_job_locks%rowtype;
  dead_run uuid;
  new_run uuid := gen_random_uuid();
  claimed record;
  skipped_metadata jsonb;
begin
  if p_job_type is null or p_job_type not in ('scheduled_sync', 'manual_sync', 'token_refresh') then
    raise exception using errcode = 'TS220',
      message = format('p_job_type must be scheduled_sync, manual_sync or token_refresh: current value is %L', p_job_type);
  end if;

  if lock_name is null then
    insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at, metadata)
    values (new_run, p_job_type, p_trigger, p_now, p_now, jsonb_build_object('request', p_request));
    return query select 'started'::text, new_run, null::uuid;
    return;
  end if;

  skipped_metadata := jsonb_build_object(
    'total_accounts', 0, 'success_count', 0, 'error_count', 0, 'skipped_count', 0,
    'reason', 'lock_held', 'request', p_request);
  select * into lock_row from public.system_job_locks l where l.job_name = lock_name for update;

  if found and lock_row.released_at is null and lock_row.expires_at > p_now then
    insert into public.system_job_logs (
      id, job_type, trigger, status, started_at, completed_at, heartbeat_at, metadata)
    values (new_run, p_job_type, p_trigger, 'skipped', p_now, p_now, p_now, skipped_metadata
      || jsonb_build_object('held_by_run', lock_row.run_id, 'lock_expires_at', lock_row.expires_at));
    return query select 'skipped'::text, new_run, lock_row.run_id;
    return;
  end if;

  -- An unreleased, expired lock whose run is still running: that run's worker died.
  if found and lock_row.released_at is null then
    select j.id into dead_run from public.system_job_logs j
    where j.id = lock_row.run_id and j.status = 'running' and j.job_type = p_job_type;
  end if;

  if dead_run is not null then
    select * into claimed
    from public.claim_job_lock(lock_name, 'run:' || dead_run, p_ttl, dead_run, p_now);
    update public.system_job_logs j
    set invocations = j.invocations + 1,
        heartbeat_at = p_now,
        metadata = j.metadata || jsonb_build_object(
          'interruptions', coalesce((j.metadata ->> 'interruptions')::int, 0) + 1,
          'last_resumed_at', p_now,
          'last_interruption', jsonb_build_object(
            'lock_expired_at', lock_row.expires_at, 'resumed_by_trigger', p_trigger))
    where j.id = dead_run;
    return query select 'resumed'::text, dead_run, null::uuid;
    return;
  end if;

  select * into claimed
  from public.claim_job_lock(lock_name, 'run:' || new_run, p_ttl, new_run, p_now);
  if not claimed.acquired then
    -- Lost the race for a lock row that did not exist yet: the winner's run is running.
    insert into public.system_job_logs (
      id, job_type, trigger, status, started_at, completed_at, heartbeat_at, metadata)
    values (new_run, p_job_type, p_trigger, 'skipped', p_now, p_now, p_now, skipped_metadata
      || jsonb_build_object('held_by_run', claimed.previous_run_id));
    return query select 'skipped'::text, new_run, claimed.previous_run_id;
    return;
  end if;
  insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at, metadata)
  values (new_run, p_job_type, p_trigger, p_now, p_now, jsonb_build_object('request', p_request));
  return query select 'started'::text, new_run, null::uuid;
end;
$$;

comment on function public.begin_job_run(text, text, jsonb, interval, timestamptz) is
  'Starts a run of a job type, resumes its dead run (expired lock, run still running), or records a skipped run when its lock is live; one transaction. Raises TS220.';

/**
 * continue_job_run(p_run_id, p_job_types, p_ttl, p_now)
 *   -> table (outcome text, job_type text, request jsonb)
 *
 * A fresh invocation joins a run (a hand-off, or the resumption of a dead run):
 *   'continue'        the run is running and its lock (if its type has one) is renewed, or
 *                     taken back in its name when it expired and nobody took it; invocations + 1
 *   'finished'        the run already ended
 *   'lock_lost'       another run holds the lock: this run must not work
 *   'wrong_job_type'  the run is not of one of p_job_types: left alone
 *   'unknown'         no such run
 * Who: the functions (postgres). Security invoker.
 */
create function public.continue_job_run(
  p_run_id uuid,
  p_job_types text[],
  p_ttl interval,
  p_now timestamptz default now()
) returns table (outcome text, job_type text, request jsonb)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_variable
declare
  run public.system_job_logs%rowtype;
  lock_name text;
  claimed record;
begin
  select * into run from public.system_job_logs j where j.id = p_run_id for update;
  if not found then
    return query select 'unknown'::text, null::text, null::jsonb;
    return;
  end if;
  if not (run.job_type = any (p_job_types)) then
    return query select 'wrong_job_type'::text, run.job_type, null::jsonb;
    return;
  end if;
  if run.status <> 'running' then
    return query select 'finished'::text, run.job_type, run.metadata -> 'request';
    return;
  end if;
  lock_name := public.job_run_lock(run.job_type);
  if lock_name is not null
     and not public.extend_job_lock(lock_name, 'run:' || p_run_id, p_ttl, p_run_id, p_now) then
    select * into claimed
    from public.claim_job_lock(lock_name, 'run:' || p_run_id, p_ttl, p_run_id, p_now);
    if not claimed.acquired then
      return query select 'lock_lost'::text, run.job_type, run.metadata -> 'request';
      return;
    end if;
  end if;
  update public.system_job_logs j
  set invocations = j.invocations + 1, heartbeat_at = p_now
  where j.id = p_run_id;
  return query select 'continue'::text, run.job_type, run.metadata -> 'request';
end;
$$;

comment on function public.continue_job_run(uuid, text[], interval, timestamptz) is
  'Joins a fresh invocation to a running run of one of the expected job types (renewing its lock): continue, finished, lock_lost, wrong_job_type or unknown.';

/**
 * hand_off_job_run(p_run_id, p_ttl, p_now) -> bigint
 *
 * Hands the rest of a run to a fresh invocation: renews its lock, counts the hand-off in
 * metadata.handoffs, and queues trigger_edge_function(<the job type's function>, {"runId"}),
 * which pg_net sends when this transaction commits. Returns the pg_net request id.
 * Raises: TS222 when the run is not running.
 * Who: the functions (postgres). Security invoker (trigger_edge_function is security definer).
 */
create function public.hand_off_job_run(
  p_run_id uuid,
  p_ttl interval,
  p_now timestamptz default now()
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  kind text;
begin
  update public.system_job_logs j
  set heartbeat_at = p_now,
      metadata = j.metadata || jsonb_build_object(
        'handoffs', coalesce((j.metadata ->> 'handoffs')::int, 0) + 1,
        'last_handoff_at', p_now)
  where j.id = p_run_id and j.status = 'running'
  returning j.job_type into kind;
  if not found then
    raise exception using errcode = 'TS222',
      message = format('Cannot hand off run %s as it is not running', p_run_id);
  end if;
  if public.job_run_lock(kind) is not null then
    perform public.extend_job_lock(public.job_run_lock(kind), 'run:' || p_run_id, p_ttl, p_run_id, p_now);
  end if;
  return public.trigger_edge_function(public.job_run_function(kind), jsonb_build_object('runId', p_run_id));
end;
$$;

comment on function public.hand_off_job_run(uuid, interval, timestamptz) is
  'Renews a run''s lock, counts the hand-off, and queues its continuation through pg_net (sent at commit). Raises TS222.';

-- The job-specific names, now thin calls of the lifecycle above ----------------------------

create or replace function public.begin_sync_run(
  p_job_type text,
  p_trigger text,
  p_request jsonb,
  p_ttl interval,
  p_now timestamptz default now()
) returns table (outcome text, run_id uuid, other_run_id uuid)
language plpgsql
volatile
set search_path = ''
as $$
begin
  if p_job_type is null or p_job_type not in ('scheduled_sync', 'manual_sync') then
    raise exception using errcode = 'TS220',
      message = format('p_job_type must be scheduled_sync or manual_sync: current value is %L', p_job_type);
  end if;
  return query select * from public.begin_job_run(p_job_type, p_trigger, p_request, p_ttl, p_now);
end;
$$;

create or replace function public.continue_sync_run(
  p_run_id uuid,
  p_ttl interval,
  p_now timestamptz default now()
) returns table (outcome text, job_type text, request jsonb)
language sql
volatile
set search_path = ''
as $$
  select * from public.continue_job_run(p_run_id, array['scheduled_sync', 'manual_sync'], p_ttl, p_now);
$$;

create or replace function public.hand_off_sync_run(
  p_run_id uuid,
  p_ttl interval,
  p_now timestamptz default now()
) returns bigint
language sql
volatile
set search_path = ''
as $$
  select public.hand_off_job_run(p_run_id, p_ttl, p_now);
$$;

/**
 * begin_token_refresh_run: as in 20261123003300 (start, resume, skip; or, with p_run_id,
 * continue that token refresh run: continue, finished, lock_lost, unknown), through
 * begin_job_run and continue_job_run. A p_run_id of another job type is 'unknown' here, as
 * before.
 */
create or replace function public.begin_token_refresh_run(
  p_trigger text,
  p_request jsonb,
  p_ttl interval,
  p_run_id uuid default null,
  p_now timestamptz default now()
) returns table (outcome text, run_id uuid, other_run_id uuid)
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_variable
declare
  joined record;
begin
  if p_run_id is null then
    return query select * from public.begin_job_run('token_refresh', p_trigger, p_request, p_ttl, p_now);
    return;
  end if;
  select * into joined from public.continue_job_run(p_run_id, array['token_refresh'], p_ttl, p_now);
  return query select
    case when joined.outcome = 'wrong_job_type' then 'unknown' else joined.outcome end,
    p_run_id,
    case when joined.outcome = 'lock_lost'
      then (select l.run_id from public.system_job_locks l where l.job_name = 'token_refresh') end;
end;
$$;

create or replace function public.hand_off_token_refresh_run(
  p_run_id uuid,
  p_ttl interval,
  p_now timestamptz default now()
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
begin
  if not exists (select from public.system_job_logs j
                 where j.id = p_run_id and j.job_type = 'token_refresh' and j.status = 'running') then
    raise exception using errcode = 'TS222',
      message = format('Cannot hand off token refresh run %s as it is not running', p_run_id);
  end if;
  return public.hand_off_job_run(p_run_id, p_ttl, p_now);
end;
$$;

-- Only the functions' own role (postgres) runs these (least privilege, as 20261130002100).
revoke all on function public.job_run_lock(text) from public, anon, authenticated, service_role;
revoke all on function public.job_run_function(text) from public, anon, authenticated, service_role;
revoke all on function public.begin_job_run(text, text, jsonb, interval, timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.continue_job_run(uuid, text[], interval, timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.hand_off_job_run(uuid, interval, timestamptz)
  from public, anon, authenticated, service_role;
