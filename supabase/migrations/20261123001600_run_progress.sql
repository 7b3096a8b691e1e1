-- Durable per-run progress and per-account leases: how a run survives the platform's
-- wall-clock limit and dead workers without skipping or repeating an account.
--
--   sync_run_accounts     one row per account of a run: pending -> in_progress -> completed |
--                         partial | failed | skipped (or back to pending for a retry later in
--                         the run). A continuation or a resumed run claims only what is not
--                         finished, so finished accounts are never redone.
--   account_sync_leases   at most one live lease per account across all runs, so a manual
--                         sync during a scheduled run (or two runs side by side) never syncs
--                         the same account twice at the same time.
--
-- A claim takes the run row (FOR UPDATE SKIP LOCKED) and the account lease in one
-- transaction; finishing releases both. Both leases carry the same expiry and are renewed
-- together (extend_run_account_leases): a worker that stops renewing loses its accounts to
-- the next claim once the lease expires.
--
-- Dead runs: find_stale_runs() lists 'running' logs with an old heartbeat and nothing live
-- (no job lock, no account lease) working for them; close_stale_job_logs() closes them.

create table public.sync_run_accounts (
  run_id uuid not null references public.system_job_logs (id) on delete cascade,
  workspace_threads_account_id uuid not null
    references public.workspace_threads_accounts (id) on delete restrict,
  -- Enqueue order (least recently synced first); claims follow it.
  position integer not null,
  status text not null default 'pending',
  -- Claims of this account in this run (a retry or a dead worker's account claimed again).
  attempts integer not null default 0,
  -- The worker that holds it (in_progress) or last held it.
  claimed_by text,
  lease_expires_at timestamptz,
  -- Not claimed before this time (enqueue time, or a retry's p_retry_at).
  next_attempt_at timestamptz not null,
  enqueued_at timestamptz not null,
  started_at timestamptz,
  finished_at timestamptz,
  last_error_code text,
  last_error_message text,
  primary key (run_id, workspace_threads_account_id),
  constraint sync_run_accounts_status_check
    check (status in ('pending', 'in_progress', 'completed', 'partial', 'failed', 'skipped')),
  constraint sync_run_accounts_attempts_non_negative check (attempts >= 0),
  constraint sync_run_accounts_in_progress_is_leased
    check (status <> 'in_progress' or (claimed_by is not null and lease_expires_at is not null)),
  constraint sync_run_accounts_finished_iff_final
    check ((status in ('completed', 'partial', 'failed', 'skipped')) = (finished_at is not null)),
  constraint sync_run_accounts_unsuccessful_has_error
    check (status not in ('partial', 'failed', 'skipped')
      or (btrim(coalesce(last_error_code, '')) <> '' and btrim(coalesce(last_error_message, '')) <> ''))
);

comment on table public.sync_run_accounts is
  'Per-run progress, one row per account: pending -> in_progress -> completed/partial/failed/skipped (or pending again with next_attempt_at for a retry). Written by enqueue_run_accounts, claim_next_run_account, finish_run_account.';

-- What claim_next_run_account scans: the unfinished rows of one run.
create index sync_run_accounts_claimable_idx
  on public.sync_run_accounts (run_id, next_attempt_at)
  where status in ('pending', 'in_progress');
-- An account's outcomes over runs (consecutive failures) and the foreign key.
create index sync_run_accounts_account_finished_idx
  on public.sync_run_accounts (workspace_threads_account_id, finished_at desc);

create table public.account_sync_leases (
  workspace_threads_account_id uuid primary key
    references public.workspace_threads_accounts (id) on delete cascade,
  holder text not null,
  run_id uuid not null references public.system_job_logs (id) on delete cascade,
  acquired_at timestamptz not null,
  expires_at timestamptz not null,
  constraint account_sync_leases_holder_not_blank check (btrim(holder) <> '')
);

comment on table public.account_sync_leases is
  'Cross-run lease per account: whoever holds a live one (expires_at > now()) is the only worker syncing that account. Taken by claim_next_run_account, released by finish_run_account.';

create index account_sync_leases_run_idx on public.account_sync_leases (run_id);

alter table public.sync_run_accounts enable row level security;
alter table public.account_sync_leases enable row level security;
revoke all on table public.sync_run_accounts, public.account_sync_leases from anon, authenticated;

/**
 * enqueue_run_accounts(p_run_id, p_account_ids, p_workspace_id, p_limit, p_now) -> integer
 *
 * Adds the run's accounts as 'pending' rows: the eligible ones (active, with a primary,
 * unrevoked token that has not expired at p_now), optionally only those in p_account_ids
 * and/or in p_workspace_id, least recently synced first, at most p_limit in the whole run.
 *
 * Idempotent: accounts already in the run are left as they are, and p_limit counts them, so
 * calling it again (a continuation, a resumed run) adds nothing new. Named accounts that are
 * not eligible (unknown, inactive, no usable token) are not enqueued.
 *
 * Returns the number of rows added by this call (0 on a repeat; run_progress gives the total).
 * Raises:
 *   TS211  the run does not exist
 *   TS212  the run is not 'running'
 *   TS210  p_limit is negative
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.enqueue_run_accounts(
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
      and exists (
        select from public.workspace_threads_tokens t
        where t.workspace_threads_account_id = a.id
          and t.is_primary and t.revoked_at is null and t.expires_at > p_now)
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
  'Adds the eligible accounts (active, primary unrevoked unexpired token; optionally by ids/workspace, up to p_limit per run) to a run as pending; idempotent; returns rows added. Raises TS210-TS212.';

/**
 * claim_next_run_account(p_run_id, p_worker, p_lease, p_now) -> uuid
 *
 * Takes the next account of the run for p_worker until p_now + p_lease: a 'pending' row whose
 * next_attempt_at has come, or an 'in_progress' row whose lease expired (its worker died),
 * earliest first, then in enqueue order. In the same transaction it takes the account's
 * cross-run lease; an account leased by a live worker of any run is skipped. The row becomes
 * in_progress, attempts + 1. Rows locked by a concurrent claim are skipped (SKIP LOCKED), so
 * two workers never get the same account.
 *
 * Returns the account id, or NULL when nothing is claimable now (see run_progress for why:
 * all finished, retries not yet due, or accounts leased elsewhere).
 * Raises: TS210 when p_worker is blank or p_lease is not positive.
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.claim_next_run_account(
  p_run_id uuid,
  p_worker text,
  p_lease interval,
  p_now timestamptz default now()
) returns uuid
language plpgsql
volatile
set search_path = ''
as $$
declare
  candidate uuid;
  tries integer := 0;
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception using errcode = 'TS210', message = 'p_worker must be a non-empty worker name';
  end if;
  if p_lease is null or p_lease <= interval '0' then
    raise exception using errcode = 'TS210',
      message = format('p_lease must be a positive interval: current value is %s', coalesce(p_lease::text, 'NULL'));
  end if;

  -- Normally one pass. Another pass only when an account was leased by another run between
  -- this statement's snapshot and the lease insert; the next statement's snapshot sees that
  -- lease and skips it. Bounded so a pathological race cannot spin.
  while tries < 10 loop
    tries := tries + 1;
    candidate := null;
    select ra.workspace_threads_account_id into candidate
    from public.sync_run_accounts ra
    where ra.run_id = p_run_id
      and ((ra.status = 'pending' and ra.next_attempt_at <= p_now)
        or (ra.status = 'in_progress' and ra.lease_expires_at <= p_now))
      and not exists (
        select from public.account_sync_leases l
        where l.workspace_threads_account_id = ra.workspace_threads_account_id
          and l.expires_at > p_now)
    order by case when ra.status = 'in_progress' then ra.lease_expires_at else ra.next_attempt_at end,
      ra.position
    limit 1
    for update of ra skip locked;
    if candidate is null then
      return null;
    end if;

    insert into public.account_sync_leases as l (
      workspace_threads_account_id, holder, run_id, acquired_at, expires_at)
    values (candidate, p_worker, p_run_id, p_now, p_now + p_lease)
    on conflict (workspace_threads_account_id) do update
      set holder = excluded.holder,
          run_id = excluded.run_id,
          acquired_at = excluded.acquired_at,
          expires_at = excluded.expires_at
      where l.expires_at <= p_now;
    if found then
      update public.sync_run_accounts ra
      set status = 'in_progress',
          attempts = ra.attempts + 1,
          claimed_by = p_worker,
          lease_expires_at = p_now + p_lease,
          started_at = coalesce(ra.started_at, p_now)
      where ra.run_id = p_run_id and ra.workspace_threads_account_id = candidate;
      -- Claiming is progress: it renews the run's heartbeat (at most every 15 s).
      update public.system_job_logs j
      set heartbeat_at = p_now
      where j.id = p_run_id and j.status = 'running' and j.heartbeat_at < p_now - interval '15 seconds';
      return candidate;
    end if;
  end loop;
  return null;
end;
$$;

comment on function public.claim_next_run_account(uuid, text, interval, timestamptz) is
  'Claims the next due account of a run (pending, or in_progress with an expired lease) together with its cross-run account lease, FOR UPDATE SKIP LOCKED; NULL when nothing is claimable now.';

/**
 * finish_run_account(p_run_id, p_account_id, p_worker, p_status, p_error_code, p_error_message,
 *                    p_retry_at, p_now) -> boolean
 *
 * Records the outcome of an account that p_worker holds (in_progress, claimed_by = p_worker)
 * and releases its account lease.
 *   p_retry_at NULL:  status = p_status, finished_at = p_now. 'completed' also sets
 *                     workspace_threads_accounts.last_synced_at (the last complete success).
 *   p_retry_at given: the account goes back to 'pending' with next_attempt_at = p_retry_at
 *                     (retried later in the same run, e.g. after a rate-limit cool-down);
 *                     p_error_code/p_error_message are kept as the reason.
 *
 * Returns true when recorded; false, changing nothing, when p_worker does not hold the
 * account in this run (never claimed it, already finished, or it was reclaimed after the
 * worker's lease expired).
 * Raises: TS213 when p_status is not completed/partial/failed/skipped, or when an unsuccessful
 * outcome or a retry lacks a non-empty p_error_code and p_error_message.
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.finish_run_account(
  p_run_id uuid,
  p_account_id uuid,
  p_worker text,
  p_status text,
  p_error_code text default null,
  p_error_message text default null,
  p_retry_at timestamptz default null,
  p_now timestamptz default now()
) returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  if p_status is null or p_status not in ('completed', 'partial', 'failed', 'skipped') then
    raise exception using errcode = 'TS213',
      message = format('p_status must be one of completed, partial, failed, skipped: current value is %L', p_status);
  end if;
  if (p_status <> 'completed' or p_retry_at is not null)
     and (btrim(coalesce(p_error_code, '')) = '' or btrim(coalesce(p_error_message, '')) = '') then
    raise exception using errcode = 'TS213',
      message = format('Cannot record outcome %s%s without a non-empty p_error_code and p_error_message',
        p_status, case when p_retry_at is not null then ' with a retry' else '' end);
  end if;

  update public.sync_run_accounts ra
  set status = case when p_retry_at is null then p_status else 'pending' end,
      finished_at = case when p_retry_at is null then p_now end,
      next_attempt_at = coalesce(p_retry_at, ra.next_attempt_at),
      lease_expires_at = null,
      last_error_code = coalesce(p_error_code, ra.last_error_code),
      last_error_message = coalesce(p_error_message, ra.last_error_message)
  where ra.run_id = p_run_id
    and ra.workspace_threads_account_id = p_account_id
    and ra.status = 'in_progress'
    and ra.claimed_by = p_worker;
  if not found then
    return false;
  end if;

  delete from public.account_sync_leases l
  where l.workspace_threads_account_id = p_account_id and l.holder = p_worker and l.run_id = p_run_id;

  if p_status = 'completed' and p_retry_at is null then
    update public.workspace_threads_accounts a
    set last_synced_at = p_now
    where a.id = p_account_id and (a.last_synced_at is null or a.last_synced_at < p_now);
  end if;

  update public.system_job_logs j
  set heartbeat_at = p_now
  where j.id = p_run_id and j.status = 'running' and j.heartbeat_at < p_now - interval '15 seconds';
  return true;
end;
$$;

comment on function public.finish_run_account(uuid, uuid, text, text, text, text, timestamptz, timestamptz) is
  'Records an account''s outcome in a run (only by the worker holding it) and releases its account lease; with p_retry_at the account goes back to pending until then. Raises TS213.';

/**
 * extend_run_account_leases(p_run_id, p_worker, p_lease, p_now) -> integer
 *
 * Heartbeat of a worker: renews, until p_now + p_lease, both the run-row lease and the
 * account lease of every account p_worker holds in the run whose lease has not expired yet
 * (an expired one may already be someone else's), and the run's heartbeat_at.
 *
 * Returns the number of accounts renewed; fewer than the worker has in flight means it lost
 * some and must stop working on them.
 * Raises: TS210 when p_lease is not positive.
 * Who: the sync (postgres, service_role). Security invoker.
 */
create function public.extend_run_account_leases(
  p_run_id uuid,
  p_worker text,
  p_lease interval,
  p_now timestamptz default now()
) returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  renewed integer;
begin
  if p_lease is null or p_lease <= interval '0' then
    raise exception using errcode = 'TS210',
      message = format('p_lease must be a positive interval: current value is %s', coalesce(p_lease::text, 'NULL'));
  end if;

  with renewed_rows as (
    update public.sync_run_accounts ra
    set lease_expires_at = p_now + p_lease
    where ra.run_id = p_run_id
      and ra.claimed_by = p_worker
      and ra.status = 'in_progress'
      and ra.lease_expires_at > p_now
    returning ra.workspace_threads_account_id
  ),
  renewed_leases as (
    update public.account_sync_leases l
    set expires_at = p_now + p_lease
    from renewed_rows r
    where l.workspace_threads_account_id = r.workspace_threads_account_id
      and l.holder = p_worker and l.run_id = p_run_id
    returning 1
  )
  select count(*)::integer into renewed from renewed_rows;

  update public.system_job_logs j
  set heartbeat_at = p_now
  where j.id = p_run_id and j.status = 'running' and j.heartbeat_at < p_now - interval '15 seconds';
  return renewed;
end;
$$;

comment on function public.extend_run_account_leases(uuid, text, interval, timestamptz) is
  'Worker heartbeat: renews the run-row and account leases of every live account p_worker holds in the run, and the run''s heartbeat; returns how many.';

/**
 * run_progress(p_run_id) -> table (total, pending, in_progress, completed, partial, failed,
 *                                  skipped, next_attempt_at)
 *
 * Counts of the run's accounts by status; next_attempt_at is the earliest next_attempt_at of
 * its pending accounts (NULL when none is pending): when a waiting retry becomes due. The run
 * is done when pending + in_progress = 0.
 * Who: the sync and operators. Security invoker.
 */
create function public.run_progress(p_run_id uuid)
returns table (
  total integer, pending integer, in_progress integer, completed integer, partial integer,
  failed integer, skipped integer, next_attempt_at timestamptz)
language sql
stable
set search_path = ''
as $$
  select
    count(*)::integer,
    count(*) filter (where ra.status = 'pending')::integer,
    count(*) filter (where ra.status = 'in_progress')::integer,
    count(*) filter (where ra.status = 'completed')::integer,
    count(*) filter (where ra.status = 'partial')::integer,
    count(*) filter (where ra.status = 'failed')::integer,
    count(*) filter (where ra.status = 'skipped')::integer,
    min(ra.next_attempt_at) filter (where ra.status = 'pending')
  from public.sync_run_accounts ra
  where ra.run_id = p_run_id;
$$;

comment on function public.run_progress(uuid) is
  'Counts of a run''s accounts by status, and when the next pending retry is due.';

/**
 * find_stale_runs(p_stale_after, p_now) -> table (run_id, job_type, trigger, started_at,
 *                                               heartbeat_at, invocations, unfinished_accounts)
 *
 * The dead runs: 'running' system_job_logs rows whose heartbeat_at is older than
 * p_now - p_stale_after and for which nothing is live: no unreleased, unexpired job lock names
 * the run and no account lease of the run is unexpired. (A worker that is alive renews one of
 * them; see the heartbeat functions.) unfinished_accounts counts its pending and in_progress
 * accounts.
 * Who: the sync (to resume or close such runs) and operators. Security invoker.
 */
create function public.find_stale_runs(
  p_stale_after interval default interval '10 minutes',
  p_now timestamptz default now()
) returns table (
  run_id uuid, job_type text, trigger text, started_at timestamptz, heartbeat_at timestamptz,
  invocations integer, unfinished_accounts integer)
language sql
stable
set search_path = ''
as $$
  select j.id, j.job_type, j.trigger, j.started_at, j.heartbeat_at, j.invocations,
    (select count(*)::integer from public.sync_run_accounts ra
     where ra.run_id = j.id and ra.status in ('pending', 'in_progress'))
  from public.system_job_logs j
  where j.status = 'running'
    and j.heartbeat_at < p_now - p_stale_after
    and not exists (
      select from public.system_job_locks l
      where l.run_id = j.id and l.released_at is null and l.expires_at > p_now)
    and not exists (
      select from public.account_sync_leases l
      where l.run_id = j.id and l.expires_at > p_now)
  order by j.started_at;
$$;

comment on function public.find_stale_runs(interval, timestamptz) is
  'Running runs with no heartbeat for p_stale_after and no live job lock or account lease: their worker is gone.';

/**
 * close_stale_job_logs(p_stale_after, p_now) -> integer
 *
 * Closes the runs find_stale_runs(p_stale_after, p_now) reports, so no run stays 'running'
 * after its worker is gone and nobody resumed it (30 minutes by default: two missed
 * 15-minute triggers). For each such run, in one statement:
 *   - its in_progress accounts become 'failed' (worker_lost: interrupted mid-sync), its pending
 *     ones 'skipped' (run_abandoned), and their account leases are dropped;
 *   - the log becomes 'partial' when some account completed or partly completed, else
 *     'failed', with error_code 'worker_lost', completed_at = p_now, and metadata updated with
 *     the final counts plus {"interrupted": true, "closed_by": "close_stale_job_logs"}.
 *
 * Returns the number of runs closed.
 * Who: the sync (before claiming the job lock), run_housekeeping, operators. Security invoker.
 */
create function public.close_stale_job_logs(
  p_stale_after interval default interval '30 minutes',
  p_now timestamptz default now()
) returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  closed integer;
begin
  with stale as (
    select s.run_id, s.heartbeat_at from public.find_stale_runs(p_stale_after, p_now) s
  ),
  counts as (
    -- Counts as they will be once the unfinished rows are closed below.
    select s.run_id, s.heartbeat_at,
      count(ra.run_id) as total,
      count(*) filter (where ra.status = 'completed') as completed,
      count(*) filter (where ra.status = 'partial') as partial,
      count(*) filter (where ra.status in ('failed', 'in_progress')) as failed,
      count(*) filter (where ra.status in ('skipped', 'pending')) as skipped
    from stale s
    left join public.sync_run_accounts ra on ra.run_id = s.run_id
    group by s.run_id, s.heartbeat_at
  ),
  closed_accounts as (
    update public.sync_run_accounts ra
    set status = case when ra.status = 'in_progress' then 'failed' else 'skipped' end,
        finished_at = p_now,
        lease_expires_at = null,
        last_error_code = case when ra.status = 'in_progress' then 'worker_lost' else 'run_abandoned' end,
        last_error_message = case when ra.status = 'in_progress'
          then 'The worker syncing this account stopped (no heartbeat); the run was closed by close_stale_job_logs'
          else 'Not synced: the run was closed by close_stale_job_logs after its worker stopped' end
    from stale s
    where ra.run_id = s.run_id and ra.status in ('pending', 'in_progress')
    returning 1
  ),
  dropped_leases as (
    delete from public.account_sync_leases l using stale s where l.run_id = s.run_id
    returning 1
  ),
  closed_runs as (
    update public.system_job_logs j
    set status = case when c.completed + c.partial > 0 then 'partial' else 'failed' end,
        completed_at = greatest(p_now, j.started_at),
        error_code = 'worker_lost',
        error_message = format('No heartbeat since %s and no live lock or lease: the run''s worker is gone; closed by close_stale_job_logs',
          c.heartbeat_at),
        metadata = case
          -- Runs that tracked accounts: the counts come from their rows.
          when c.total > 0 then j.metadata || jsonb_build_object(
            'total_accounts', c.total, 'success_count', c.completed,
            'error_count', c.partial + c.failed, 'skipped_count', c.skipped)
          -- Others keep the counts they recorded, zero where they recorded none.
          else jsonb_build_object('total_accounts', 0, 'success_count', 0, 'error_count', 0,
            'skipped_count', 0) || j.metadata
        end || jsonb_build_object('interrupted', true, 'closed_by', 'close_stale_job_logs',
          'closed_at', p_now)
    from counts c
    where j.id = c.run_id and j.status = 'running'
    returning 1
  )
  -- (closed_accounts and dropped_leases run to completion although nothing reads them:
  -- PostgreSQL executes every data-modifying CTE exactly once.)
  select count(*)::integer into closed from closed_runs;
  return closed;
end;
$$;

comment on function public.close_stale_job_logs(interval, timestamptz) is
  'Closes running runs whose worker is gone (find_stale_runs): unfinished accounts failed/skipped, run partial or failed with error_code worker_lost and final counts; returns runs closed.';

revoke all on function public.enqueue_run_accounts(uuid, uuid[], uuid, integer, timestamptz) from public, anon, authenticated;
revoke all on function public.claim_next_run_account(uuid, text, interval, timestamptz) from public, anon, authenticated;
revoke all on function public.finish_run_account(uuid, uuid, text, text, text, text, timestamptz, timestamptz) from public, anon, authenticated;
revoke all on function public.extend_run_account_leases(uuid, text, interval, timestamptz) from public, anon, authenticated;
revoke all on function public.run_progress(uuid) from public, anon, authenticated;
revoke all on function public.find_stale_runs(interval, timestamptz) from public, anon, authenticated;
revoke all on function public.close_stale_job_logs(interval, timestamptz) from public, anon, authenticated;
grant execute on function public.enqueue_run_accounts(uuid, uuid[], uuid, integer, timestamptz) to service_role;
grant execute on function public.claim_next_run_account(uuid, text, interval, timestamptz) to service_role;
grant execute on function public.finish_run_account(uuid, uuid, text, text, text, text, timestamptz, timestamptz) to service_role;
grant execute on function public.extend_run_account_leases(uuid, text, interval, timestamptz) to service_role;
grant execute on function public.run_progress(uuid) to service_role;
grant execute on function public.find_stale_runs(interval, timestamptz) to service_role;
grant execute on function public.close_stale_job_logs(interval, timestamptz) to service_role;
