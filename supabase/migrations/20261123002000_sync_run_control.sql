-- Run control for the scheduled-sync function: how a run starts, is resumed after its worker
-- died, continues in a fresh invocation, hands off before the platform's wall-clock limit, and
-- finishes. Each step is one SQL function, so each is one transaction: a crash between two
-- lines of TypeScript can never leave a run half-started or half-finished.
--
-- Conventions:
--   * The scheduled run's job lock (`scheduled_sync`) is held in the name of the run, as
--     `run:<run id>`, not of one invocation: every invocation of the run (continuations,
--     a resumed run) renews the same lease, and a trigger that finds the lease expired while
--     the run is still 'running' resumes that run instead of starting another.
--   * A manual run takes no job lock (it may run beside a scheduled one); the per-account
--     leases of claim_next_run_account keep the two from syncing one account at once.
--   * The request that started a run is kept in metadata.request, so a continuation or a
--     resumed run knows which accounts it covers without being told again.

/**
 * begin_sync_run(p_job_type, p_trigger, p_request, p_ttl, p_now)
 *   -> table (outcome text, run_id uuid, other_run_id uuid)
 *
 * Starts a run, or resumes a dead scheduled run, or records a skipped one; atomically.
 *   scheduled_sync: the `scheduled_sync` lock row is read FOR UPDATE, so concurrent triggers
 *     take turns:
 *       - lock live (another run's worker renews it)   -> 'skipped': a skipped log row is
 *         written (metadata.held_by_run names the running run); other_run_id = that run
 *       - lock expired, its run still 'running'         -> 'resumed': the lock is taken over
 *         in that run's name, invocations + 1, metadata.interruptions + 1; run_id = that run
 *       - otherwise                                      -> 'started': a new run and its lock
 *   manual_sync: always 'started' (no lock).
 *
 * Raises: TS220 when p_job_type is not scheduled_sync or manual_sync.
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.begin_sync_run(
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
  lock_row public.system_job_locks%rowtype;
  dead_run uuid;
  new_run uuid := gen_random_uuid();
  claimed record;
begin
  if p_job_type not in ('scheduled_sync', 'manual_sync') then
    raise exception using errcode = 'TS220',
      message = format('p_job_type must be scheduled_sync or manual_sync: current value is %L', p_job_type);
  end if;

  if p_job_type = 'manual_sync' then
    insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at, metadata)
    values (new_run, p_job_type, p_trigger, p_now, p_now, jsonb_build_object('request', p_request));
    return query select 'started'::text, new_run, null::uuid;
    return;
  end if;

  select * into lock_row from public.system_job_locks l
  where l.job_name = 'scheduled_sync' for update;

  if found and lock_row.released_at is null and lock_row.expires_at > p_now then
    insert into public.system_job_logs (
      id, job_type, trigger, status, started_at, completed_at, heartbeat_at, metadata)
    values (new_run, p_job_type, p_trigger, 'skipped', p_now, p_now, p_now, jsonb_build_object(
      'total_accounts', 0, 'success_count', 0, 'error_count', 0, 'skipped_count', 0,
      'reason', 'lock_held', 'held_by_run', lock_row.run_id,
      'lock_expires_at', lock_row.expires_at));
    return query select 'skipped'::text, new_run, lock_row.run_id;
    return;
  end if;

  -- An unreleased, expired lock whose run is still running: that run's worker died.
  if found and lock_row.released_at is null then
    select j.id into dead_run from public.system_job_logs j
    where j.id = lock_row.run_id and j.status = 'running' and j.job_type = 'scheduled_sync';
  end if;

  if dead_run is not null then
    select * into claimed
    from public.claim_job_lock('scheduled_sync', 'run:' || dead_run, p_ttl, dead_run, p_now);
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
  from public.claim_job_lock('scheduled_sync', 'run:' || new_run, p_ttl, new_run, p_now);
  -- The row lock above makes losing here impossible; kept as a guard all the same.
  if not claimed.acquired then
    raise exception using errcode = 'TS221',
      message = format('Cannot start a scheduled run as the lock was taken meanwhile by %s', claimed.previous_holder);
  end if;
  insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at, metadata)
  values (new_run, p_job_type, p_trigger, p_now, p_now, jsonb_build_object('request', p_request));
  return query select 'started'::text, new_run, null::uuid;
end;
$$;

comment on function public.begin_sync_run(text, text, jsonb, interval, timestamptz) is
  'Starts a sync run, resumes a dead scheduled run (expired lock, run still running), or records a skipped run when the lock is live; one transaction.';

/**
 * continue_sync_run(p_run_id, p_ttl, p_now) -> table (outcome text, job_type text, request jsonb)
 *
 * A fresh invocation joins a run (a hand-off, or the resumption of a dead manual run):
 *   'continue'   the run is running and, for a scheduled run, its lock is renewed (or taken
 *                back in its name when it expired and nobody took it); invocations + 1
 *   'finished'   the run already ended: nothing to do
 *   'lock_lost'  another run holds the scheduled lock: this run must not work
 *   'unknown'    no such run
 * Who: the sync. Security invoker.
 */
create function public.continue_sync_run(
  p_run_id uuid,
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
  claimed record;
begin
  select * into run from public.system_job_logs j where j.id = p_run_id for update;
  if not found then
    return query select 'unknown'::text, null::text, null::jsonb;
    return;
  end if;
  if run.status <> 'running' then
    return query select 'finished'::text, run.job_type, run.metadata -> 'request';
    return;
  end if;
  if run.job_type = 'scheduled_sync'
     and not public.extend_job_lock('scheduled_sync', 'run:' || p_run_id, p_ttl, p_run_id, p_now) then
    select * into claimed
    from public.claim_job_lock('scheduled_sync', 'run:' || p_run_id, p_ttl, p_run_id, p_now);
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

comment on function public.continue_sync_run(uuid, interval, timestamptz) is
  'Joins a fresh invocation to a running sync run (renewing its lock): continue, finished, lock_lost or unknown.';

/**
 * heartbeat_sync_run(p_run_id, p_worker, p_ttl, p_now) -> boolean
 *
 * The run's heartbeat, sent by a working invocation every few seconds: renews the scheduled
 * lock (in the run's name) and the run-row and account leases p_worker holds. Returns false
 * when a scheduled run no longer holds its lock: the invocation must stop claiming.
 * Who: the sync. Security invoker.
 */
create function public.heartbeat_sync_run(
  p_run_id uuid,
  p_worker text,
  p_ttl interval,
  p_now timestamptz default now()
) returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  kind text;
begin
  select j.job_type into kind from public.system_job_logs j
  where j.id = p_run_id and j.status = 'running';
  if not found then
    return false;
  end if;
  perform public.extend_run_account_leases(p_run_id, p_worker, p_ttl, p_now);
  update public.system_job_logs j set heartbeat_at = p_now where j.id = p_run_id;
  if kind = 'scheduled_sync' then
    return public.extend_job_lock('scheduled_sync', 'run:' || p_run_id, p_ttl, p_run_id, p_now);
  end if;
  return true;
end;
$$;

comment on function public.heartbeat_sync_run(uuid, text, interval, timestamptz) is
  'Renews a running sync run''s lock and the worker''s leases; false when a scheduled run lost its lock.';

/**
 * add_sync_run_figures(p_run_id, p_figures) -> void
 *
 * Adds an invocation's figures (api_calls, api_retries, api_rate_limit_errors,
 * api_limiter_wait_ms, accounts_processed, per-step milliseconds, ...) to the run's metadata,
 * key by key, so a run that took several invocations reports its totals (sync_run_overview
 * shows api_calls). Numbers are summed; other values replace the previous one.
 * Who: the sync. Security invoker.
 */
create function public.add_sync_run_figures(p_run_id uuid, p_figures jsonb)
returns void
language sql
volatile
set search_path = ''
as $$
  update public.system_job_logs j
  set metadata = j.metadata || (
    select coalesce(jsonb_object_agg(n.key, case
      when jsonb_typeof(n.value) = 'number' and jsonb_typeof(j.metadata -> n.key) = 'number'
        then to_jsonb((j.metadata ->> n.key)::numeric + (n.value #>> '{}')::numeric)
      else n.value end), '{}'::jsonb)
    from jsonb_each(coalesce(p_figures, '{}'::jsonb)) n)
  where j.id = p_run_id;
$$;

comment on function public.add_sync_run_figures(uuid, jsonb) is
  'Sums an invocation''s numeric figures into system_job_logs.metadata.';

/**
 * hand_off_sync_run(p_run_id, p_ttl, p_now) -> bigint
 *
 * Hands the rest of a run to a fresh invocation before this one's time budget runs out:
 * renews the run's lock, counts the hand-off in metadata.handoffs, and queues
 * `trigger_edge_function('scheduled-sync', {"runId": ...})`. pg_net sends it when this
 * transaction commits, so the hand-off survives this invocation being killed right after;
 * if the request itself is lost, the lock expires and the next trigger resumes the run.
 * Returns the pg_net request id.
 * Who: the sync. Security invoker (trigger_edge_function itself is security definer).
 */
create function public.hand_off_sync_run(
  p_run_id uuid,
  p_ttl interval,
  p_now timestamptz default now()
) returns bigint
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.system_job_logs j
  set heartbeat_at = p_now,
      metadata = j.metadata || jsonb_build_object(
        'handoffs', coalesce((j.metadata ->> 'handoffs')::int, 0) + 1,
        'last_handoff_at', p_now)
  where j.id = p_run_id and j.status = 'running';
  if not found then
    raise exception using errcode = 'TS222',
      message = format('Cannot hand off run %s as it is not running', p_run_id);
  end if;
  perform public.extend_job_lock('scheduled_sync', 'run:' || p_run_id, p_ttl, p_run_id, p_now);
  return public.trigger_edge_function('scheduled-sync', jsonb_build_object('runId', p_run_id));
end;
$$;

comment on function public.hand_off_sync_run(uuid, interval, timestamptz) is
  'Renews the run''s lock, counts the hand-off, and queues the continuation through pg_net (sent at commit).';

/**
 * finish_sync_run(p_run_id, p_error_code, p_error_message, p_now) -> text
 *
 * Ends a run and releases its lock, in one transaction. Without an error the run must have
 * no pending or in_progress account left (TS223 otherwise). With p_error_code (the run could
 * not proceed: the API is down and the circuit breaker opened, the database failed), its
 * pending accounts are recorded as skipped with that reason.
 *
 * Status: 'failed' when p_error_code is given; else 'completed' when every account
 * completed (or there were none), 'partial' otherwise. metadata gains total_accounts,
 * success_count (completed), partial_count, failed_count, error_count (partial + failed) and
 * skipped_count. Returns the status; a run that already ended keeps its status (returned).
 * Who: the sync. Security invoker.
 */
create function public.finish_sync_run(
  p_run_id uuid,
  p_error_code text default null,
  p_error_message text default null,
  p_now timestamptz default now()
) returns text
language plpgsql
volatile
set search_path = ''
as $$
#variable_conflict use_variable
declare
  run public.system_job_logs%rowtype;
  progress record;
  final_status text;
begin
  select * into run from public.system_job_logs j where j.id = p_run_id for update;
  if not found then
    raise exception using errcode = 'TS211', message = format('Cannot finish run %s as it does not exist', p_run_id);
  end if;
  if run.status <> 'running' then
    return run.status;
  end if;
  if p_error_code is not null then
    update public.sync_run_accounts ra
    set status = 'skipped', finished_at = p_now, lease_expires_at = null,
        last_error_code = p_error_code,
        last_error_message = format('Not synced: the run stopped early (%s)', p_error_message)
    where ra.run_id = p_run_id and ra.status = 'pending';
  end if;
  select * into progress from public.run_progress(p_run_id);
  if progress.pending + progress.in_progress > 0 then
    raise exception using errcode = 'TS223',
      message = format('Cannot finish run %s as %s accounts are unfinished', p_run_id,
        progress.pending + progress.in_progress);
  end if;
  final_status := case
    when p_error_code is not null then 'failed'
    when progress.completed = progress.total then 'completed'
    else 'partial' end;
  update public.system_job_logs j
  set status = final_status,
      completed_at = greatest(p_now, j.started_at),
      heartbeat_at = p_now,
      error_code = p_error_code,
      error_message = p_error_message,
      metadata = j.metadata || jsonb_build_object(
        'total_accounts', progress.total, 'success_count', progress.completed,
        'partial_count', progress.partial, 'failed_count', progress.failed,
        'error_count', progress.partial + progress.failed, 'skipped_count', progress.skipped)
  where j.id = p_run_id;
  update public.system_job_locks l
  set released_at = p_now
  where l.job_name = 'scheduled_sync' and l.locked_by = 'run:' || p_run_id and l.released_at is null;
  return final_status;
end;
$$;

comment on function public.finish_sync_run(uuid, text, text, timestamptz) is
  'Ends a sync run (completed, partial, or failed with a reason) and releases its lock in one transaction. Raises TS223 while accounts are unfinished.';

/**
 * claim_stale_manual_runs(p_stale_after, p_now) -> setof uuid
 *
 * Manual runs whose worker is gone (find_stale_runs): renews their heartbeat so a concurrent
 * trigger does not claim them too, and returns them for the caller to continue
 * (hand_off_sync_run). Scheduled runs need no such step: begin_sync_run resumes them.
 * Who: the sync. Security invoker.
 */
create function public.claim_stale_manual_runs(
  p_stale_after interval,
  p_now timestamptz default now()
) returns setof uuid
language sql
volatile
set search_path = ''
as $$
  update public.system_job_logs j
  set heartbeat_at = p_now
  where j.id in (
    select s.run_id from public.find_stale_runs(p_stale_after, p_now) s
    where s.job_type = 'manual_sync')
    and j.status = 'running'
    and j.heartbeat_at < p_now - p_stale_after
  returning j.id;
$$;

comment on function public.claim_stale_manual_runs(interval, timestamptz) is
  'Returns (and marks as being resumed) the manual sync runs whose worker is gone.';

revoke all on function
  public.begin_sync_run(text, text, jsonb, interval, timestamptz),
  public.continue_sync_run(uuid, interval, timestamptz),
  public.heartbeat_sync_run(uuid, text, interval, timestamptz),
  public.add_sync_run_figures(uuid, jsonb),
  public.hand_off_sync_run(uuid, interval, timestamptz),
  public.finish_sync_run(uuid, text, text, timestamptz),
  public.claim_stale_manual_runs(interval, timestamptz)
from public, anon, authenticated;
grant execute on function
  public.begin_sync_run(text, text, jsonb, interval, timestamptz),
  public.continue_sync_run(uuid, interval, timestamptz),
  public.heartbeat_sync_run(uuid, text, interval, timestamptz),
  public.add_sync_run_figures(uuid, jsonb),
  public.hand_off_sync_run(uuid, interval, timestamptz),
  public.finish_sync_run(uuid, text, text, timestamptz),
  public.claim_stale_manual_runs(interval, timestamptz)
to service_role;
