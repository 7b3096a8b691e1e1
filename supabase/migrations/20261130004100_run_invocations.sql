-- Several invocations work one run side by side. A hosted Edge Function gets 2 s of CPU per
-- invocation, so invocations are short; a run keeps up to SYNC_MAX_INVOCATIONS of them working
-- at once (each claims accounts with the existing leases), and tops the number up whenever one
-- leaves (its budget spent) or is found gone (killed). The run still finishes exactly once:
-- finish_sync_run locks the run row and returns the status of a run that already ended.
--
--   sync_run_invocations   one row per invocation of a run: joined, last seen, ended; rows named
--                          'queued:<uuid>' stand for continuations queued through pg_net that have
--                          not joined yet, so two top-ups at once never queue the same one twice
--   join_sync_run          an invocation joins (takes the place of a queued one)
--   top_up_sync_run        queues the continuations the run needs (after commit, through pg_net)
--   leave_sync_run         an invocation ends (finished the run, lost its lock, or failed)
--   heartbeat_sync_run     (replaced) also marks the invocation as seen

create table public.sync_run_invocations (
  run_id uuid not null references public.system_job_logs (id) on delete cascade,
  -- The worker name of the invocation (scheduled-sync/<uuid>), or queued:<uuid>.
  worker text not null,
  started_at timestamptz not null,
  seen_at timestamptz not null,
  ended_at timestamptz,
  primary key (run_id, worker),
  constraint sync_run_invocations_worker_not_blank check (btrim(worker) <> ''),
  constraint sync_run_invocations_ended_after_start check (ended_at is null or ended_at >= started_at)
);

comment on table public.sync_run_invocations is
  'The invocations of a sync run (live while seen recently and not ended), and continuations queued but not yet joined (queued:<uuid>). Written by join_sync_run, heartbeat_sync_run, top_up_sync_run.';

alter table public.sync_run_invocations enable row level security;
revoke all on table public.sync_run_invocations from anon, authenticated;
revoke insert, update, delete, truncate, references, trigger on table public.sync_run_invocations
  from service_role;

/**
 * join_sync_run(p_run_id, p_worker, p_now) -> void
 *
 * Records that invocation p_worker works the run, and retires one queued continuation of the
 * run (the one this invocation most likely is), so it is not counted twice.
 * Who: the sync (postgres). Security invoker.
 */
create function public.join_sync_run(
  p_run_id uuid,
  p_worker text,
  p_now timestamptz default now()
) returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  delete from public.sync_run_invocations i
  where (i.run_id, i.worker) in (
    select q.run_id, q.worker from public.sync_run_invocations q
    where q.run_id = p_run_id and q.worker like 'queued:%'
    order by q.started_at
    limit 1);
  insert into public.sync_run_invocations (run_id, worker, started_at, seen_at)
  values (p_run_id, p_worker, p_now, p_now)
  on conflict (run_id, worker) do update set seen_at = excluded.seen_at, ended_at = null;
end;
$$;

comment on function public.join_sync_run(uuid, text, timestamptz) is
  'An invocation joins a sync run (retiring one queued continuation).';

/**
 * top_up_sync_run(p_run_id, p_worker, p_leaving, p_max, p_ttl, p_live_within, p_now) -> integer
 *
 * Keeps up to p_max invocations working the run, one per 20 unfinished accounts (a small run
 * is not worth the boot of several). Counts the live ones (not ended, seen within
 * p_live_within, queued ones included) other than p_worker, and queues continuations
 * (trigger_edge_function('scheduled-sync', {"runId"}), sent by pg_net when this transaction
 * commits) for the difference; a leaving p_worker always leaves at least one successor while
 * accounts are unfinished (someone must take the accounts of a killed invocation when their
 * leases expire). p_leaving marks p_worker ended and counts a
 * hand-off in metadata.handoffs. Renews the scheduled lock. The run row is locked first, so two
 * top-ups at once take turns and never queue the same continuation twice.
 * Returns the number of continuations queued (0 for a run that is not running).
 * Raises: TS210 when p_max is not positive.
 * Who: the sync (postgres). Security invoker (trigger_edge_function is security definer).
 */
create function public.top_up_sync_run(
  p_run_id uuid,
  p_worker text,
  p_leaving boolean,
  p_max integer,
  p_ttl interval,
  p_live_within interval default '30 seconds',
  p_now timestamptz default now()
) returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  kind text;
  remaining integer;
  live_others integer;
  wanted integer;
begin
  if p_max is null or p_max < 1 then
    raise exception using errcode = 'TS210',
      message = format('p_max must be a positive number of invocations: current value is %s', coalesce(p_max::text, 'NULL'));
  end if;
  select j.job_type into kind from public.system_job_logs j
  where j.id = p_run_id and j.status = 'running' for update;
  if not found then
    return 0;
  end if;
  if p_leaving then
    update public.sync_run_invocations i set ended_at = greatest(p_now, i.started_at)
    where i.run_id = p_run_id and i.worker = p_worker;
    update public.system_job_logs j
    set heartbeat_at = p_now,
        metadata = j.metadata || jsonb_build_object(
          'handoffs', coalesce((j.metadata ->> 'handoffs')::int, 0) + 1,
          'last_handoff_at', p_now)
    where j.id = p_run_id;
  end if;
  select count(*)::integer into remaining from public.sync_run_accounts ra
  where ra.run_id = p_run_id and ra.status in ('pending', 'in_progress');
  if remaining = 0 then
    return 0;
  end if;
  select count(*)::integer into live_others from public.sync_run_invocations i
  where i.run_id = p_run_id and i.worker <> p_worker and i.ended_at is null
    and i.seen_at > p_now - p_live_within;
  wanted := least(p_max, ceil(remaining / 20.0)::integer) - live_others - case when p_leaving then 0 else 1 end;
  -- A leaving invocation always leaves a successor while accounts are unfinished: one counted
  -- live may in fact have been killed moments ago, and its accounts must be taken again when
  -- their leases expire. At the run's tail the successor finds the run finished, or waits.
  if p_leaving then
    wanted := greatest(wanted, 1);
  end if;
  if kind = 'scheduled_sync' then
    perform public.extend_job_lock('scheduled_sync', 'run:' || p_run_id, p_ttl, p_run_id, p_now);
  end if;
  for i in 1 .. greatest(wanted, 0) loop
    insert into public.sync_run_invocations (run_id, worker, started_at, seen_at)
    values (p_run_id, 'queued:' || gen_random_uuid(), p_now, p_now);
    perform public.trigger_edge_function('scheduled-sync', jsonb_build_object('runId', p_run_id));
  end loop;
  return greatest(wanted, 0);
end;
$$;

comment on function public.top_up_sync_run(uuid, text, boolean, integer, interval, interval, timestamptz) is
  'Keeps up to p_max invocations working a sync run: queues continuations through pg_net (sent at commit) for the live ones missing. Raises TS210.';

/**
 * leave_sync_run(p_run_id, p_worker, p_now) -> void
 *
 * Marks invocation p_worker ended without queueing a successor (top_up_sync_run with
 * p_leaving does both, for a hand-off).
 * Who: the sync (postgres). Security invoker.
 */
create function public.leave_sync_run(
  p_run_id uuid,
  p_worker text,
  p_now timestamptz default now()
) returns void
language sql
volatile
set search_path = ''
as $$
  update public.sync_run_invocations i set ended_at = greatest(p_now, i.started_at)
  where i.run_id = p_run_id and i.worker = p_worker and i.ended_at is null;
$$;

comment on function public.leave_sync_run(uuid, text, timestamptz) is
  'Marks an invocation of a sync run ended (no successor queued).';

/**
 * heartbeat_sync_run: as in 20261123002000, and it also marks invocation p_worker as seen, so
 * top_up_sync_run counts it live.
 */
create or replace function public.heartbeat_sync_run(
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
  update public.sync_run_invocations i set seen_at = p_now
  where i.run_id = p_run_id and i.worker = p_worker;
  if kind = 'scheduled_sync' then
    return public.extend_job_lock('scheduled_sync', 'run:' || p_run_id, p_ttl, p_run_id, p_now);
  end if;
  return true;
end;
$$;

-- Only the functions' own role (postgres) runs these (least privilege, as 20261130002100).
revoke all on function public.join_sync_run(uuid, text, timestamptz) from public, anon, authenticated, service_role;
revoke all on function public.leave_sync_run(uuid, text, timestamptz) from public, anon, authenticated, service_role;
revoke all on function public.top_up_sync_run(uuid, text, boolean, integer, interval, interval, timestamptz)
  from public, anon, authenticated, service_role;
