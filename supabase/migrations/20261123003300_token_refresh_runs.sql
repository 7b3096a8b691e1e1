-- Run control for the token-refresh function: which tokens are due, and how a run starts,
-- continues in a fresh invocation, and finishes. The same conventions as the sync's run
-- control (20261123002000_sync_run_control.sql):
--
--   * one system_job_logs row per run (job_type 'token_refresh'), however many invocations it
--     takes; one sync_logs row per account tried (job_type 'token_refresh');
--   * the run holds the job lock 'token_refresh' in its own name (`run:<run id>`), renewed by
--     every invocation's heartbeat (extend_job_lock) and released when the run finishes; a
--     trigger that finds the lock live records a 'skipped' run; one that finds it expired
--     while its run is still 'running' resumes that run;
--   * an account is tried at most once per run: tokens_due_for_refresh leaves out accounts
--     that already have a sync_logs row in the run, so a continuation or a resumed run never
--     refreshes (or fails) the same token twice.

/**
 * tokens_due_for_refresh(p_window, p_run_id, p_account_ids, p_workspace_id, p_limit, p_now)
 *   -> table (account_id uuid, workspace_id uuid, username text, token_id uuid,
 *             access_token_encrypted text, expires_at timestamptz, issued_at timestamptz,
 *             refreshable_at timestamptz)
 *
 * The primary tokens to refresh: of active accounts, unrevoked, not rejected by the API, not
 * yet expired (an expired token cannot be refreshed: the account needs a reconnect) and
 * expiring within p_window of p_now; optionally only the accounts p_account_ids and/or of
 * p_workspace_id; leaving out accounts already tried in run p_run_id. Soonest expiry first,
 * at most p_limit rows.
 *
 * refreshable_at = issued_at + 24 hours: Threads refreshes only tokens at least 24 hours old.
 * Rows with refreshable_at > p_now are returned too (the caller records them as skipped,
 * "too young", rather than calling the API).
 * Raises: TS210 when p_window is not positive or p_limit is negative.
 * Who: the token-refresh function (postgres, service_role) and operators. Security invoker.
 */
create function public.tokens_due_for_refresh(
  p_window interval,
  p_run_id uuid default null,
  p_account_ids uuid[] default null,
  p_workspace_id uuid default null,
  p_limit integer default null,
  p_now timestamptz default now()
) returns table (account_id uuid, workspace_id uuid, username text, token_id uuid,
  access_token_encrypted text, expires_at timestamptz, issued_at timestamptz,
  refreshable_at timestamptz)
language plpgsql
stable
set search_path = ''
as $$
begin
  if p_window is null or p_window <= interval '0' then
    raise exception using errcode = 'TS210',
      message = format('p_window must be a positive interval: current value is %s', coalesce(p_window::text, 'NULL'));
  end if;
  if p_limit < 0 then
    raise exception using errcode = 'TS210', message = format('p_limit must be >= 0 or NULL: current value is %s', p_limit);
  end if;
  return query
    select a.id, a.workspace_id, a.username, t.id, t.access_token_encrypted, t.expires_at,
      t.issued_at, t.issued_at + interval '24 hours'
    from public.workspace_threads_accounts a
    join public.workspace_threads_tokens t
      on t.workspace_threads_account_id = a.id and t.is_primary and t.revoked_at is null
    where a.is_active
      and t.rejected_at is null
      and t.expires_at > p_now
      and t.expires_at <= p_now + p_window
      and (p_account_ids is null or a.id = any (p_account_ids))
      and (p_workspace_id is null or a.workspace_id = p_workspace_id)
      and (p_run_id is null or not exists (
        select from public.sync_logs s
        where s.run_id = p_run_id and s.workspace_threads_account_id = a.id
          and s.job_type = 'token_refresh'))
    order by t.expires_at, a.id
    limit p_limit;
end;
$$;

comment on function public.tokens_due_for_refresh(interval, uuid, uuid[], uuid, integer, timestamptz) is
  'Primary tokens of active accounts, unrevoked, unrejected, unexpired, expiring within p_window (optionally by accounts/workspace), not yet tried in run p_run_id; soonest first, with refreshable_at = issued_at + 24 h.';

/**
 * begin_token_refresh_run(p_trigger, p_request, p_ttl, p_run_id, p_now)
 *   -> table (outcome text, run_id uuid, other_run_id uuid)
 *
 * Without p_run_id (a trigger: pg_cron or a person), atomically:
 *   - lock 'token_refresh' live (another run renews it)  -> 'skipped': a skipped run is
 *     recorded (metadata.held_by_run names the live run); other_run_id = that run
 *   - lock expired while its run is still 'running'       -> 'resumed': the lock is taken in
 *     that run's name, invocations + 1, metadata.interruptions + 1; run_id = that run
 *   - otherwise                                           -> 'started': a new run and its lock
 * With p_run_id (a continuation the function queued for itself):
 *   'continue'   the run is running; its lock is renewed (or taken back in its name when it
 *                expired and nobody took it); invocations + 1
 *   'finished'   the run already ended
 *   'lock_lost'  another run holds the lock: this invocation must not work
 *   'unknown'    no such token_refresh run
 * p_request ({"accountIds", "workspaceId", "windowDays"}) is kept in metadata.request of a new
 * run, so its continuations work on the same accounts.
 * Raises: TS210 (from claim_job_lock) when p_ttl is not positive.
 * Who: the token-refresh function (postgres, service_role). Security invoker.
 */
create function public.begin_token_refresh_run(
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
  lock_row public.system_job_locks%rowtype;
  run public.system_job_logs%rowtype;
  dead_run uuid;
  new_run uuid := gen_random_uuid();
  claimed record;
begin
  if p_run_id is not null then
    select * into run from public.system_job_logs j
    where j.id = p_run_id and j.job_type = 'token_refresh' for update;
    if not found then
      return query select 'unknown'::text, p_run_id, null::uuid;
      return;
    end if;
    if run.status <> 'running' then
      return query select 'finished'::text, p_run_id, null::uuid;
      return;
    end if;
    if not public.extend_job_lock('token_refresh', 'run:' || p_run_id, p_ttl, p_run_id, p_now) then
      select * into claimed
      from public.claim_job_lock('token_refresh', 'run:' || p_run_id, p_ttl, p_run_id, p_now);
      if not claimed.acquired then
        return query select 'lock_lost'::text, p_run_id, claimed.previous_run_id;
        return;
      end if;
    end if;
    update public.system_job_logs j
    set invocations = j.invocations + 1, heartbeat_at = p_now
    where j.id = p_run_id;
    return query select 'continue'::text, p_run_id, null::uuid;
    return;
  end if;

  select * into lock_row from public.system_job_locks l
  where l.job_name = 'token_refresh' for update;

  if found and lock_row.released_at is null and lock_row.expires_at > p_now then
    insert into public.system_job_logs (
      id, job_type, trigger, status, started_at, completed_at, heartbeat_at, metadata)
    values (new_run, 'token_refresh', p_trigger, 'skipped', p_now, p_now, p_now, jsonb_build_object(
      'total_accounts', 0, 'success_count', 0, 'error_count', 0, 'skipped_count', 0,
      'reason', 'lock_held', 'held_by_run', lock_row.run_id,
      'lock_expires_at', lock_row.expires_at, 'request', p_request));
    return query select 'skipped'::text, new_run, lock_row.run_id;
    return;
  end if;

  -- An unreleased, expired lock whose run is still running: that run's worker died.
  if found and lock_row.released_at is null then
    select j.id into dead_run from public.system_job_logs j
    where j.id = lock_row.run_id and j.status = 'running' and j.job_type = 'token_refresh';
  end if;

  if dead_run is not null then
    select * into claimed
    from public.claim_job_lock('token_refresh', 'run:' || dead_run, p_ttl, dead_run, p_now);
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
  from public.claim_job_lock('token_refresh', 'run:' || new_run, p_ttl, new_run, p_now);
  if not claimed.acquired then
    -- Two first-ever triggers raced for a lock row that did not exist yet: this one lost.
    insert into public.system_job_logs (
      id, job_type, trigger, status, started_at, completed_at, heartbeat_at, metadata)
    values (new_run, 'token_refresh', p_trigger, 'skipped', p_now, p_now, p_now, jsonb_build_object(
      'total_accounts', 0, 'success_count', 0, 'error_count', 0, 'skipped_count', 0,
      'reason', 'lock_held', 'held_by_run', claimed.previous_run_id, 'request', p_request));
    return query select 'skipped'::text, new_run, claimed.previous_run_id;
    return;
  end if;
  insert into public.system_job_logs (id, job_type, trigger, started_at, heartbeat_at, metadata)
  values (new_run, 'token_refresh', p_trigger, p_now, p_now, jsonb_build_object('request', p_request));
  return query select 'started'::text, new_run, null::uuid;
end;
$$;

comment on function public.begin_token_refresh_run(text, jsonb, interval, uuid, timestamptz) is
  'Starts a token_refresh run under the job lock token_refresh, resumes a dead one, records a skipped run when the lock is live, or joins a continuation (p_run_id); one transaction.';

/**
 * hand_off_token_refresh_run(p_run_id, p_ttl, p_now) -> bigint
 *
 * Hands the rest of a run to a fresh invocation before this one's time budget runs out:
 * renews the run's lock, counts the hand-off in metadata.handoffs, and queues
 * `trigger_edge_function('token-refresh', {"runId": ...})`, which pg_net sends when this
 * transaction commits. If that request is lost, the lock expires and the next trigger resumes
 * the run. Returns the pg_net request id.
 * Raises: TS222 when the run is not running.
 * Who: the token-refresh function. Security invoker (trigger_edge_function is security definer).
 */
create function public.hand_off_token_refresh_run(
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
  where j.id = p_run_id and j.status = 'running' and j.job_type = 'token_refresh';
  if not found then
    raise exception using errcode = 'TS222',
      message = format('Cannot hand off token refresh run %s as it is not running', p_run_id);
  end if;
  perform public.extend_job_lock('token_refresh', 'run:' || p_run_id, p_ttl, p_run_id, p_now);
  return public.trigger_edge_function('token-refresh', jsonb_build_object('runId', p_run_id));
end;
$$;

comment on function public.hand_off_token_refresh_run(uuid, interval, timestamptz) is
  'Renews the token_refresh run''s lock, counts the hand-off, and queues its continuation through pg_net (sent at commit).';

/**
 * finish_token_refresh_run(p_run_id, p_error_code, p_error_message, p_now) -> text
 *
 * Ends a token_refresh run and releases its lock, in one transaction. The counts come from
 * the run's sync_logs rows (one per account tried): total_accounts, success_count
 * (completed: refreshed), error_count (failed), skipped_count (skipped: too young, replaced
 * meanwhile), rejected_count (failed with auth_expired: the token is now marked rejected).
 *
 * Status: 'failed' when p_error_code is given (the run could not go on: e.g. the database
 * failed mid-run; p_error_message is required then); else 'completed' when no account failed,
 * 'partial' when some did. A token too young to refresh is not a failure. A run that already
 * ended keeps its status (returned).
 * Raises: TS211 when the run does not exist; TS213 when p_error_code comes without a message.
 * Who: the token-refresh function. Security invoker.
 */
create function public.finish_token_refresh_run(
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
  counts record;
  final_status text;
begin
  if p_error_code is not null and btrim(coalesce(p_error_message, '')) = '' then
    raise exception using errcode = 'TS213',
      message = 'Cannot fail a run without a non-empty p_error_message';
  end if;
  select * into run from public.system_job_logs j
  where j.id = p_run_id and j.job_type = 'token_refresh' for update;
  if not found then
    raise exception using errcode = 'TS211',
      message = format('Cannot finish token refresh run %s as it does not exist', p_run_id);
  end if;
  if run.status <> 'running' then
    return run.status;
  end if;
  select
    count(*)::integer as total,
    count(*) filter (where s.status = 'completed')::integer as completed,
    count(*) filter (where s.status in ('failed', 'partial'))::integer as failed,
    count(*) filter (where s.status = 'skipped')::integer as skipped,
    count(*) filter (where s.status = 'failed' and s.error_code = 'auth_expired')::integer as rejected
  into counts
  from public.sync_logs s
  where s.run_id = p_run_id and s.job_type = 'token_refresh';
  final_status := case
    when p_error_code is not null then 'failed'
    when counts.failed = 0 then 'completed'
    else 'partial' end;
  update public.system_job_logs j
  set status = final_status,
      completed_at = greatest(p_now, j.started_at),
      heartbeat_at = p_now,
      error_code = p_error_code,
      error_message = p_error_message,
      metadata = j.metadata || jsonb_build_object(
        'total_accounts', counts.total, 'success_count', counts.completed,
        'error_count', counts.failed, 'skipped_count', counts.skipped,
        'rejected_count', counts.rejected)
  where j.id = p_run_id;
  update public.system_job_locks l
  set released_at = p_now, expires_at = least(l.expires_at, p_now)
  where l.job_name = 'token_refresh' and l.locked_by = 'run:' || p_run_id and l.released_at is null;
  return final_status;
end;
$$;

comment on function public.finish_token_refresh_run(uuid, text, text, timestamptz) is
  'Ends a token_refresh run (completed, partial, or failed with a reason) with counts from its sync_logs rows, and releases its lock; one transaction.';

revoke all on function
  public.tokens_due_for_refresh(interval, uuid, uuid[], uuid, integer, timestamptz),
  public.begin_token_refresh_run(text, jsonb, interval, uuid, timestamptz),
  public.hand_off_token_refresh_run(uuid, interval, timestamptz),
  public.finish_token_refresh_run(uuid, text, text, timestamptz)
from public, anon, authenticated;
grant execute on function
  public.tokens_due_for_refresh(interval, uuid, uuid[], uuid, integer, timestamptz),
  public.begin_token_refresh_run(text, jsonb, interval, uuid, timestamptz),
  public.hand_off_token_refresh_run(uuid, interval, timestamptz),
  public.finish_token_refresh_run(uuid, text, text, timestamptz)
to service_role;
