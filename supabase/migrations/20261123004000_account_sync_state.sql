-- Each account's sync health, kept in the database and shown at the console (one view):
--
--   healthy          the last finished sync completed every step
--   never_synced     connected, not synced yet
--   rate_limited     the API's budget for it ran out: not synced again before rate_limited_until
--   token_rejected   the API refused its token (reconnect it)
--   failing          failed (or partly failed) N runs in a row, N below the pause threshold
--   paused           failed PAUSE_AFTER runs in a row: runs leave it alone until an operator
--                    resumes it (select public.resume_account_sync('<account id>'))
--   inactive         deactivated by an operator
--
-- Pausing stops a hopeless account from spending the API budget and cluttering every run's
-- log 96 times a day; a manual sync that names the account still syncs it (the operator's
-- explicit intent), and any complete success clears the pause and the deferral.

alter table public.workspace_threads_accounts
  add column sync_paused_at timestamptz,
  add column sync_paused_reason text,
  -- Set when the API's rate limit or the account's 24-hour call budget ran out and the wait
  -- was too long to retry within the run.
  add column rate_limited_until timestamptz,
  add constraint workspace_threads_accounts_paused_has_reason
    check ((sync_paused_at is null) = (sync_paused_reason is null)
      and (sync_paused_reason is null or btrim(sync_paused_reason) <> ''));

comment on column public.workspace_threads_accounts.sync_paused_at is
  'Set when the account failed 10 runs in a row (see account_sync_state); cleared by resume_account_sync or a complete success.';
comment on column public.workspace_threads_accounts.rate_limited_until is
  'Runs over all accounts leave the account alone until then (rate limit or 24-hour call budget); cleared by a complete success.';

/**
 * _500_track_account_sync_state() -> trigger (AFTER UPDATE OF status ON sync_run_accounts)
 *
 * When an account's outcome in a run is recorded: a complete success clears its pause and
 * deferral; a failed or partial outcome that makes 10 in a row since the last complete
 * success pauses it, with the reason (the last error). Same count as
 * account_sync_health.consecutive_failures.
 */
create function public._500_track_account_sync_state() returns trigger
language plpgsql
set search_path = ''
as $$
declare
  -- 10 runs: two and a half hours of failures on the 15-minute schedule.
  pause_after constant integer := 10;
  streak integer;
begin
  if new.status = 'completed' then
    update public.workspace_threads_accounts a
    set sync_paused_at = null, sync_paused_reason = null, rate_limited_until = null
    where a.id = new.workspace_threads_account_id
      and (a.sync_paused_at is not null or a.rate_limited_until is not null);
  elsif new.status in ('failed', 'partial') then
    select count(*)::integer into streak
    from public.sync_run_accounts r
    join public.workspace_threads_accounts a on a.id = r.workspace_threads_account_id
    where r.workspace_threads_account_id = new.workspace_threads_account_id
      and r.status in ('failed', 'partial')
      and r.finished_at > coalesce(a.last_synced_at, '-infinity'::timestamptz);
    if streak >= pause_after then
      update public.workspace_threads_accounts a
      set sync_paused_at = coalesce(new.finished_at, now()),
          sync_paused_reason = format('Paused after %s failed syncs in a row; last: %s: %s',
            streak, new.last_error_code, left(new.last_error_message, 300))
      where a.id = new.workspace_threads_account_id and a.sync_paused_at is null;
    end if;
  end if;
  return null;
end;
$$;

comment on function public._500_track_account_sync_state() is
  'Trigger: pauses an account after 10 failed runs in a row, clears pause and deferral on a complete success.';

create trigger _500_track_account_sync_state
  after update of status on public.sync_run_accounts
  for each row
  when (new.status is distinct from old.status
    and new.status in ('completed', 'failed', 'partial'))
  execute function public._500_track_account_sync_state();

/**
 * resume_account_sync(p_account_id) -> boolean
 *
 * The operator's un-pause: clears the account's pause and rate-limit deferral, so the next
 * run syncs it. Returns false when the account was neither paused nor deferred.
 * Raises: TS203 when the account does not exist.
 * Who: operators (postgres, service_role). Security invoker.
 */
create function public.resume_account_sync(p_account_id uuid) returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  if not exists (select from public.workspace_threads_accounts a where a.id = p_account_id) then
    raise exception using errcode = 'TS203',
      message = format('Cannot resume account %s as it does not exist', p_account_id);
  end if;
  update public.workspace_threads_accounts a
  set sync_paused_at = null, sync_paused_reason = null, rate_limited_until = null
  where a.id = p_account_id and (a.sync_paused_at is not null or a.rate_limited_until is not null);
  return found;
end;
$$;

comment on function public.resume_account_sync(uuid) is
  'Un-pauses an account (and lifts a rate-limit deferral) so the next run syncs it.';

/**
 * defer_account_sync(p_account_id, p_until) -> void
 *
 * Keeps runs over all accounts away from an account until p_until (its rate limit or 24-hour
 * call budget ran out and the wait is longer than a run). A later p_until wins.
 * Who: the sync. Security invoker.
 */
create function public.defer_account_sync(p_account_id uuid, p_until timestamptz) returns void
language sql
volatile
set search_path = ''
as $$
  update public.workspace_threads_accounts a
  set rate_limited_until = greatest(a.rate_limited_until, p_until)
  where a.id = p_account_id;
$$;

comment on function public.defer_account_sync(uuid, timestamptz) is
  'Defers an account''s syncs until a time (rate limit or call budget exhausted).';

/**
 * enqueue_run_accounts: as in 20261123003400 (active, usable and unrejected primary token),
 * and now also leaving out paused accounts and accounts deferred past p_now, unless the
 * caller names them in p_account_ids (a manual sync of that account is an operator's
 * explicit request). Same signature, grants and behaviour otherwise.
 */
create or replace function public.enqueue_run_accounts(
  p_run_id uuid,
  p_account_ids uuid[] default null,
  p_workspace_id uuid default null,
  p_limit integer default null,
  p_now timestamptz default now()
) returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  run_status text;
  already integer;
  last_position integer;
  added integer;
begin
  if p_limit < 0 then
    raise exception using errcode = 'TS210', message = format('p_limit must be >= 0 or NULL: current value is %s', p_limit);
  end if;
  -- Lock the run row: two concurrent enqueues of one run take turns, so p_limit holds.
  select j.status into run_status from public.system_job_logs j where j.id = p_run_id for update;
  if not found then
    raise exception using errcode = 'TS211', message = format('Cannot enqueue accounts as run %s does not exist', p_run_id);
  end if;
  if run_status <> 'running' then
    raise exception using errcode = 'TS212',
      message = format('Cannot enqueue accounts as run %s is not running: current status is %s', p_run_id, run_status);
  end if;

  select count(*)::integer, coalesce(max(ra.position), 0) into already, last_position
  from public.sync_run_accounts ra where ra.run_id = p_run_id;

  insert into public.sync_run_accounts (
    run_id, workspace_threads_account_id, position, status, next_attempt_at, enqueued_at)
  select p_run_id, e.id, last_position + row_number() over (order by e.last_synced_at nulls first, e.id),
    'pending', p_now, p_now
  from (
    select a.id, a.last_synced_at
    from public.workspace_threads_accounts a
    where a.is_active
      and (p_account_ids is null or a.id = any (p_account_ids))
      and (p_workspace_id is null or a.workspace_id = p_workspace_id)
      -- Paused or deferred accounts only when named explicitly.
      and (p_account_ids is not null
        or (a.sync_paused_at is null
          and (a.rate_limited_until is null or a.rate_limited_until <= p_now)))
      and exists (
        select from public.workspace_threads_tokens t
        where t.workspace_threads_account_id = a.id
          and t.is_primary and t.revoked_at is null and t.expires_at > p_now
          and t.rejected_at is null)
      and not exists (
        select from public.sync_run_accounts ra
        where ra.run_id = p_run_id and ra.workspace_threads_account_id = a.id)
    order by a.last_synced_at nulls first, a.id
    limit case when p_limit is null then null else greatest(p_limit - already, 0) end
  ) e
  on conflict (run_id, workspace_threads_account_id) do nothing;
  get diagnostics added = row_count;
  return added;
end;
$$;

comment on function public.enqueue_run_accounts(uuid, uuid[], uuid, integer, timestamptz) is
  'Adds the eligible accounts (active; primary unrevoked unexpired unrejected token; not paused or deferred unless named; optionally by ids/workspace, up to p_limit per run) to a run as pending; idempotent; returns rows added. Raises TS210-TS212.';

/** account_sync_state: one row per account with its health state, for the console. */
create view public.account_sync_state
with (security_invoker = true)
as
select
  h.workspace_name,
  h.account_id,
  h.username,
  case
    when not h.is_active then 'inactive'
    when a.sync_paused_at is not null then 'paused'
    when t.rejected_at is not null then 'token_rejected'
    when a.rate_limited_until > now() then 'rate_limited'
    when h.consecutive_failures > 0 then 'failing'
    when h.last_success_at is null then 'never_synced'
    else 'healthy'
  end as state,
  case
    when a.sync_paused_at is not null then a.sync_paused_reason
    when t.rejected_at is not null then t.rejected_reason
    when a.rate_limited_until > now() then format('not synced before %s', a.rate_limited_until)
    when h.consecutive_failures > 0 then format('%s failed run(s) in a row; last: %s', h.consecutive_failures, h.last_error_code)
  end as detail,
  a.rate_limited_until,
  a.sync_paused_at,
  h.consecutive_failures,
  h.last_success_at,
  h.minutes_since_last_success,
  h.last_error_code,
  h.last_error_message
from public.account_sync_health h
join public.workspace_threads_accounts a on a.id = h.account_id
left join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
  and t.is_primary and t.revoked_at is null;

comment on view public.account_sync_state is
  'Each account''s sync health: healthy, never_synced, rate_limited (until), token_rejected, failing (N in a row), paused (after 10; un-pause with resume_account_sync), inactive. Staleness counts from the last complete success.';

revoke all on public.account_sync_state from anon, authenticated;
revoke all on function public._500_track_account_sync_state() from public, anon, authenticated;
revoke all on function public.resume_account_sync(uuid) from public, anon, authenticated;
revoke all on function public.defer_account_sync(uuid, timestamptz) from public, anon, authenticated;
grant execute on function public.resume_account_sync(uuid) to service_role;
grant execute on function public.defer_account_sync(uuid, timestamptz) to service_role;

/**
 * claim_stale_manual_runs: as in 20261123002000, and now also counting the interruption in
 * the run's metadata (interruptions, last_resumed_at), as begin_sync_run does for scheduled
 * runs, so the console shows that the run's worker died and the run was resumed.
 */
create or replace function public.claim_stale_manual_runs(
  p_stale_after interval,
  p_now timestamptz default now()
) returns setof uuid
language sql
volatile
set search_path = ''
as $$
  update public.system_job_logs j
  set heartbeat_at = p_now,
      metadata = j.metadata || jsonb_build_object(
        'interruptions', coalesce((j.metadata ->> 'interruptions')::int, 0) + 1,
        'last_resumed_at', p_now)
  where j.id in (
    select s.run_id from public.find_stale_runs(p_stale_after, p_now) s
    where s.job_type = 'manual_sync')
    and j.status = 'running'
    and j.heartbeat_at < p_now - p_stale_after
  returning j.id;
$$;
