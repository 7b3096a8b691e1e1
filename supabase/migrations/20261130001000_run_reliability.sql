-- Run reliability: no account can stall every run, a resumed run syncs only accounts still
-- eligible, a long post history advances across invocations, and a run's figures come from
-- its per-step rows (so an invocation killed by the platform loses none of them). (The first
-- triggers' lock race and continuing only sync runs are in the shared run lifecycle,
-- 20261130004200.)
--
--   claim_next_run_account   (replaced) an account whose worker was lost MAX_ATTEMPTS (3)
--                            times ends 'failed' (worker_lost); an account that left the run
--                            (deactivated, paused, deferred, token rejected) ends 'skipped'
--                            (account_left_run) without touching its health
--   finish_sync_run          (replaced) sums the run's figures from sync_logs
--   record_posts_page        one page of posts and the history cursor, in one transaction
--   sync_run_overview        (replaced) api_calls of a running sync run from its sync_logs rows

alter table public.workspace_threads_accounts
  -- The first sync reads an account's whole history page by page; the cursor after the last
  -- page written lets the next invocation (or run) go on from there instead of restarting.
  add column posts_history_cursor text,
  -- When the whole history was read once; later syncs read only recent posts.
  add column posts_history_synced_at timestamptz;

comment on column public.workspace_threads_accounts.posts_history_cursor is
  'Paging cursor after the last page of the first (full-history) posts sync that was written; NULL when not started or done. Written by record_posts_page.';
comment on column public.workspace_threads_accounts.posts_history_synced_at is
  'When the account''s whole post history was read once; NULL until then (the posts step reads the history, resuming at posts_history_cursor).';

-- Accounts synced before this migration read their whole history in one write.
update public.workspace_threads_accounts a
set posts_history_synced_at = coalesce(a.last_synced_at, now())
where exists (select from public.workspace_threads_posts p where p.workspace_threads_account_id = a.id);

/**
 * record_posts_page(p_account_id, p_posts, p_synced_at, p_history, p_next_cursor) -> jsonb
 *
 * Writes one page of posts (upsert_posts) and, for a page of the first full-history read
 * (p_history), where that read stands, in one transaction: p_next_cursor is where the next
 * page starts, NULL when this was the last page (the history is then marked read). A crash
 * between pages loses nothing and repeats at most one page (upserts are idempotent).
 * Returns upsert_posts' counts.
 * Who: the sync (postgres). Security invoker.
 */
create function public.record_posts_page(
  p_account_id uuid,
  p_posts jsonb,
  p_synced_at timestamptz,
  p_history boolean,
  p_next_cursor text
) returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  result jsonb := '{}'::jsonb;
begin
  if jsonb_array_length(coalesce(p_posts, '[]'::jsonb)) > 0 then
    result := public.upsert_posts(p_account_id, p_posts, p_synced_at);
  end if;
  if p_history then
    update public.workspace_threads_accounts a
    set posts_history_cursor = p_next_cursor,
        posts_history_synced_at = case when p_next_cursor is null then p_synced_at end
    where a.id = p_account_id;
  end if;
  return result;
end;
$$;

comment on function public.record_posts_page(uuid, jsonb, timestamptz, boolean, text) is
  'Writes one page of posts and the full-history cursor in one transaction.';

/**
 * claim_next_run_account: as in 20261123001600, and now also
 *   - an in_progress row whose lease expired after MAX_ATTEMPTS (3) claims (its worker was
 *     lost that many times: killed by the platform mid-account) ends 'failed' with
 *     last_error_code 'worker_lost', a sync_logs row for the step it was in, and the
 *     message naming the account and step; it is never claimed again in this run;
 *   - the account is checked again at claim time: one deactivated, paused or deferred (unless
 *     the run named it), or whose token was rejected since the run enqueued it, ends
 *     'skipped' with last_error_code 'account_left_run' and the reason; no sync_logs row, so
 *     its health is not touched.
 * Both kinds of row are settled inside the loop and the next candidate is tried.
 */
create or replace function public.claim_next_run_account(
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
  -- Same as MAX_ATTEMPTS in supabase/functions/_shared/account-sync.ts.
  max_attempts constant integer := 3;
  candidate record;
  named boolean;
  left_reason text;
  lost_step text;
  tries integer := 0;
begin
  if coalesce(btrim(p_worker), '') = '' then
    raise exception using errcode = 'TS210', message = 'p_worker must be a non-empty worker name';
  end if;
  if p_lease is null or p_lease <= interval '0' then
    raise exception using errcode = 'TS210',
      message = format('p_lease must be a positive interval: current value is %s', coalesce(p_lease::text, 'NULL'));
  end if;
  -- One pass per candidate; settled rows (lost, left) and lease races take another. Bounded so
  -- a pathological case cannot spin; a caller that gets NULL asks again later.
  while tries < 50 loop
    tries := tries + 1;
    select ra.workspace_threads_account_id as id, ra.status, ra.attempts, a.username,
      a.is_active, a.sync_paused_at, a.rate_limited_until, t.rejected_at as token_rejected_at
    into candidate
    from public.sync_run_accounts ra
    join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
    left join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
      and t.is_primary and t.revoked_at is null
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
    if candidate.id is null then
      return null;
    end if;

    if candidate.status = 'in_progress' and candidate.attempts >= max_attempts then
      -- The step it was in: the first one with no row in the last attempt and not completed
      -- in an earlier one (a later attempt goes on from where the earlier stopped).
      select s.step into lost_step
      from (values (1, 'sync_posts'), (2, 'sync_metrics'), (3, 'sync_account_insights')) as s (n, step)
      where not exists (
        select from public.sync_logs l
        where l.run_id = p_run_id and l.workspace_threads_account_id = candidate.id
          and l.job_type = s.step
          and (l.attempt = candidate.attempts or l.status = 'completed'))
      order by s.n
      limit 1;
      lost_step := coalesce(lost_step, 'sync_account_insights');
      update public.sync_run_accounts ra
      set status = 'failed', finished_at = p_now, lease_expires_at = null,
          last_error_code = 'worker_lost',
          last_error_message = format('[step %s, account @%s] Gave up after the worker syncing it was lost %s times (each invocation ended before the account did, e.g. killed at the platform''s time limit): check the function''s logs for this account, then sync it alone (npm run sync -- --account %s)',
            lost_step, candidate.username, candidate.attempts, candidate.id)
      where ra.run_id = p_run_id and ra.workspace_threads_account_id = candidate.id
      returning ra.last_error_message into left_reason;
      insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status,
        attempt, started_at, completed_at, error_code, error_message)
      values (p_run_id, candidate.id, lost_step, 'failed', candidate.attempts, p_now, p_now,
        'worker_lost', left_reason);
      continue;
    end if;

    -- A run that named its accounts syncs them even when paused or deferred (the operator's
    -- explicit request), as enqueue_run_accounts does; read only when it matters.
    if named is null and (candidate.sync_paused_at is not null or candidate.rate_limited_until > p_now) then
      select coalesce(jsonb_typeof(j.metadata #> '{request,accountIds}') = 'array', false) into named
      from public.system_job_logs j where j.id = p_run_id;
    end if;
    left_reason := case
      when not candidate.is_active then 'the account was deactivated'
      when candidate.token_rejected_at is not null then 'its token was rejected by the Threads API'
      when not coalesce(named, false) and candidate.sync_paused_at is not null then 'its sync was paused'
      when not coalesce(named, false) and candidate.rate_limited_until > p_now
        then format('its syncs were deferred until %s', candidate.rate_limited_until)
    end;
    if left_reason is not null then
      update public.sync_run_accounts ra
      set status = 'skipped', finished_at = p_now, lease_expires_at = null,
          last_error_code = 'account_left_run',
          last_error_message = format('Account @%s left the run after it started (%s): not synced',
            candidate.username, left_reason)
      where ra.run_id = p_run_id and ra.workspace_threads_account_id = candidate.id;
      continue;
    end if;

    insert into public.account_sync_leases as l (
      workspace_threads_account_id, holder, run_id, acquired_at, expires_at)
    values (candidate.id, p_worker, p_run_id, p_now, p_now + p_lease)
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
      where ra.run_id = p_run_id and ra.workspace_threads_account_id = candidate.id;
      -- Claiming is progress: it renews the run's heartbeat (at most every 15 s).
      update public.system_job_logs j
      set heartbeat_at = p_now
      where j.id = p_run_id and j.status = 'running' and j.heartbeat_at < p_now - interval '15 seconds';
      return candidate.id;
    end if;
  end loop;
  return null;
end;
$$;

comment on function public.claim_next_run_account(uuid, text, interval, timestamptz) is
  'Claims the next due account of a run (pending, or in_progress with an expired lease) with its cross-run account lease, FOR UPDATE SKIP LOCKED; fails an account whose worker was lost 3 times (worker_lost) and skips one that left the run (account_left_run); NULL when nothing is claimable now.';

/** jsonb_int(p_object, p_key) -> bigint: the key's value when it is a number, else NULL. */
create function public.jsonb_int(p_object jsonb, p_key text) returns bigint
language sql
immutable
set search_path = ''
as $$
  select case when jsonb_typeof(p_object -> p_key) = 'number'
    then (p_object ->> p_key)::numeric::bigint end;
$$;

/**
 * sync_run_figures(p_run_id) -> jsonb
 *
 * A sync run's figures summed from its sync_logs rows (written as each step ends, so an
 * invocation killed by the platform loses none): api_calls, api_retries,
 * api_rate_limit_errors, api_limiter_wait_ms, accounts_processed (distinct accounts with a
 * step row), and the milliseconds spent in each step (sync_posts_ms, ...).
 * Who: the sync and operators. Security invoker.
 */
create function public.sync_run_figures(p_run_id uuid) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'api_calls', coalesce(sum(public.jsonb_int(s.metadata, 'api_calls')), 0),
    'api_retries', coalesce(sum(public.jsonb_int(s.metadata, 'api_retries')), 0),
    'api_rate_limit_errors', coalesce(sum(public.jsonb_int(s.metadata, 'api_rate_limit_errors')), 0),
    'api_limiter_wait_ms', coalesce(sum(public.jsonb_int(s.metadata, 'api_limiter_wait_ms')), 0),
    'accounts_processed', count(distinct s.workspace_threads_account_id),
    'sync_posts_ms', coalesce(sum(public.jsonb_int(s.metadata, 'duration_ms')) filter (where s.job_type = 'sync_posts'), 0),
    'sync_metrics_ms', coalesce(sum(public.jsonb_int(s.metadata, 'duration_ms')) filter (where s.job_type = 'sync_metrics'), 0),
    'sync_account_insights_ms', coalesce(sum(public.jsonb_int(s.metadata, 'duration_ms')) filter (where s.job_type = 'sync_account_insights'), 0))
  from public.sync_logs s
  where s.run_id = p_run_id;
$$;

comment on function public.sync_run_figures(uuid) is
  'A sync run''s API and timing figures summed from its sync_logs rows (nothing lost when an invocation is killed).';
comment on function public.jsonb_int(jsonb, text) is
  'A jsonb object''s key as bigint when it is a number, NULL otherwise (never fails on a bad value).';

/**
 * finish_sync_run: as in 20261123002000, and the run's figures (sync_run_figures) are
 * written into its metadata from the per-step rows, whatever happened to its invocations.
 */
create or replace function public.finish_sync_run(
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
      metadata = j.metadata || public.sync_run_figures(p_run_id) || jsonb_build_object(
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

/**
 * sync_run_overview: as in 20261123001700, with api_calls of a running sync run summed live
 * from its sync_logs rows (a finished run's total is in its metadata, written by
 * finish_sync_run from the same rows, so it is complete however its invocations ended).
 */
create or replace view public.sync_run_overview
with (security_invoker = true)
as
select
  j.id,
  j.job_type,
  j.trigger,
  j.status,
  j.started_at,
  j.completed_at,
  date_trunc('second', coalesce(j.completed_at, now()) - j.started_at) as duration,
  coalesce(nullif(ra.total, 0), m.total_accounts) as accounts_total,
  case when ra.total > 0 then ra.completed else m.success_count end as accounts_ok,
  case when ra.total > 0 then ra.partial end as accounts_partial,
  case when ra.total > 0 then ra.failed else m.error_count end as accounts_failed,
  case when ra.total > 0 then ra.skipped else m.skipped_count end as accounts_skipped,
  case when ra.total > 0 then ra.unfinished end as accounts_unfinished,
  j.invocations,
  -- A finished run has its total in metadata (finish_sync_run); a running one is summed live.
  case when j.status = 'running' and ra.total > 0
    then (select coalesce(sum(case when jsonb_typeof(s.metadata -> 'api_calls') = 'number'
            then (s.metadata ->> 'api_calls')::numeric end), 0)::bigint
          from public.sync_logs s where s.run_id = j.id)
    else m.api_calls end as api_calls,
  j.heartbeat_at,
  j.error_code,
  j.error_message
from public.system_job_logs j
cross join lateral (
  -- metadata numbers, NULL when absent or not a number (a view must not fail on one bad row;
  -- inlined rather than jsonb_int so readers of the view need no function privilege).
  select
    case when jsonb_typeof(j.metadata -> 'total_accounts') = 'number' then (j.metadata ->> 'total_accounts')::numeric::bigint end as total_accounts,
    case when jsonb_typeof(j.metadata -> 'success_count') = 'number' then (j.metadata ->> 'success_count')::numeric::bigint end as success_count,
    case when jsonb_typeof(j.metadata -> 'error_count') = 'number' then (j.metadata ->> 'error_count')::numeric::bigint end as error_count,
    case when jsonb_typeof(j.metadata -> 'skipped_count') = 'number' then (j.metadata ->> 'skipped_count')::numeric::bigint end as skipped_count,
    case when jsonb_typeof(j.metadata -> 'api_calls') = 'number' then (j.metadata ->> 'api_calls')::numeric::bigint end as api_calls
) m
cross join lateral (
  select
    count(*) as total,
    count(*) filter (where r.status = 'completed') as completed,
    count(*) filter (where r.status = 'partial') as partial,
    count(*) filter (where r.status = 'failed') as failed,
    count(*) filter (where r.status = 'skipped') as skipped,
    count(*) filter (where r.status in ('pending', 'in_progress')) as unfinished
  from public.sync_run_accounts r
  where r.run_id = j.id
) ra
order by j.started_at desc;

-- Only the functions' own role (postgres) runs these (least privilege, as 20261130002100).
revoke all on function public.record_posts_page(uuid, jsonb, timestamptz, boolean, text) from public, anon, authenticated, service_role;
revoke all on function public.sync_run_figures(uuid) from public, anon, authenticated, service_role;
revoke all on function public.jsonb_int(jsonb, text) from public, anon, authenticated, service_role;
