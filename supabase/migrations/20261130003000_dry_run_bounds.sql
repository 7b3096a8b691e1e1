-- Dry runs take the accounts a real run would take, and leave a record of their API calls.
--
-- A dry run (scheduled-sync with {"dryRun": true}) fetches and computes without writing
-- synced data, but its calls to the Threads API are real: they spend each account's 24-hour
-- call budget like a sync does. Until now it chose its accounts with a query of its own
-- (which synced paused and deferred accounts) and recorded nothing, so a few dry runs could
-- push an account over its budget unseen. This migration adds:
--
--   eligible_sync_accounts()   the eligibility rule of enqueue_run_accounts as a read-only
--                              function: a dry run and a real run choose the same accounts
--                              (enqueue_run_accounts may call it too; the rule then lives in
--                              one place).
--   job_type 'dry_run'         on system_job_logs and sync_logs: a dry run is a run row with
--                              one sync_logs row per account it looked at, whose
--                              metadata.api_calls the 24-hour budget (a sum over sync_logs)
--                              already counts, and which the console views show with the
--                              rest. A job type of its own keeps it apart from sync runs: it
--                              takes no lock and no account lease, has no sync_run_accounts,
--                              and nothing resumes or continues it (a dead one is closed by
--                              close_stale_job_logs like any run).
--   begin_dry_run(), finish_dry_run()   open and close that run row.

-- The new job type. NOT VALID then VALIDATE: the check is swapped under a brief lock and
-- the existing rows are checked without blocking writers.
alter table public.system_job_logs
  drop constraint system_job_logs_job_type_check,
  add constraint system_job_logs_job_type_check
    check (job_type in ('scheduled_sync', 'manual_sync', 'token_refresh', 'housekeeping', 'dry_run'))
    not valid;
alter table public.system_job_logs validate constraint system_job_logs_job_type_check;

alter table public.sync_logs
  drop constraint sync_logs_job_type_check,
  add constraint sync_logs_job_type_check
    check (job_type in ('sync_posts', 'sync_metrics', 'sync_account_insights', 'token_refresh',
      'dry_run'))
    not valid;
alter table public.sync_logs validate constraint sync_logs_job_type_check;

comment on table public.system_job_logs is
  'One row per job run (scheduled_sync, manual_sync, token_refresh, housekeeping, dry_run), updated by every invocation of the run. Finished sync runs carry total_accounts, success_count, error_count, skipped_count in metadata. See view sync_run_overview.';
comment on table public.sync_logs is
  'One row per account and step (sync_posts, sync_metrics, sync_account_insights, token_refresh) of a run, or per account of a dry run (dry_run, metadata.api_calls). failed/partial/skipped rows always carry error_code and error_message.';

/**
 * eligible_sync_accounts(p_account_ids, p_workspace_id, p_limit, p_now)
 *   -> setof workspace_threads_accounts
 *
 * The accounts a run would sync, least recently synced first, at most p_limit (NULL: all):
 * active, with a primary, unrevoked token that has not expired at p_now and that the API has
 * not rejected; not paused and not deferred past p_now, unless named in p_account_ids (a
 * manual sync of that account is an operator's explicit request); optionally only those in
 * p_account_ids and/or in p_workspace_id. The same rule as enqueue_run_accounts
 * (20261123004000), without a run.
 *
 * Raises: PostgreSQL's 2201W when p_limit is negative.
 * Who: the sync (postgres). Security invoker; reads only.
 */
create function public.eligible_sync_accounts(
  p_account_ids uuid[] default null,
  p_workspace_id uuid default null,
  p_limit integer default null,
  p_now timestamptz default now()
) returns setof public.workspace_threads_accounts
language sql
stable
set search_path = ''
as $$
  select a.*
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
  order by a.last_synced_at nulls first, a.id
  limit p_limit;
$$;

comment on function public.eligible_sync_accounts(uuid[], uuid, integer, timestamptz) is
  'The accounts a run would sync (enqueue_run_accounts'' rule: active; primary unrevoked unexpired unrejected token; not paused or deferred unless named), least recently synced first, up to p_limit. Read-only.';

/**
 * begin_dry_run(p_scope, p_now) -> uuid
 *
 * Opens a dry run's system_job_logs row ('dry_run', trigger 'manual', status 'running') with
 * p_scope (what was asked: accountIds, workspaceId, maxAccounts) in its metadata, and
 * returns its id for the dry run's sync_logs rows.
 * Who: the sync (postgres). Security invoker.
 */
create function public.begin_dry_run(
  p_scope jsonb default '{}'::jsonb,
  p_now timestamptz default now()
) returns uuid
language sql
volatile
set search_path = ''
as $$
  insert into public.system_job_logs (job_type, trigger, started_at, heartbeat_at, metadata)
  values ('dry_run', 'manual', p_now, p_now, jsonb_build_object('scope', coalesce(p_scope, '{}'::jsonb)))
  returning id;
$$;

comment on function public.begin_dry_run(jsonb, timestamptz) is
  'Opens a dry run''s run row (job_type dry_run) and returns its id.';

/**
 * finish_dry_run(p_run_id, p_not_attempted, p_now) -> text
 *
 * Closes a dry run with counts taken from its sync_logs rows (one per account it looked at),
 * so they are right whatever the invocation managed to report: total_accounts (rows plus
 * p_not_attempted), success_count (completed), error_count (partial or failed),
 * skipped_count (skipped plus p_not_attempted), not_attempted (accounts the time budget left
 * out) and api_calls (the sum of the rows' metadata.api_calls). Status 'completed' when every
 * account completed, else 'partial'. A dry run already closed keeps its status.
 *
 * Returns the final status.
 * Raises: TS211 when p_run_id is not a dry run; TS210 when p_not_attempted is negative.
 * Who: the sync (postgres). Security invoker.
 */
create function public.finish_dry_run(
  p_run_id uuid,
  p_not_attempted integer default 0,
  p_now timestamptz default now()
) returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  run_status text;
  c record;
  final_status text;
begin
  if p_not_attempted is null or p_not_attempted < 0 then
    raise exception using errcode = 'TS210',
      message = format('p_not_attempted must be >= 0: current value is %s', p_not_attempted);
  end if;
  select j.status into run_status from public.system_job_logs j
  where j.id = p_run_id and j.job_type = 'dry_run' for update;
  if not found then
    raise exception using errcode = 'TS211',
      message = format('Cannot finish dry run %s as no dry run has that id', p_run_id);
  end if;
  if run_status <> 'running' then
    return run_status;
  end if;
  select
    count(*)::integer as total,
    (count(*) filter (where s.status = 'completed'))::integer as completed,
    (count(*) filter (where s.status in ('partial', 'failed')))::integer as errors,
    (count(*) filter (where s.status = 'skipped'))::integer as skipped,
    coalesce(sum(case when jsonb_typeof(s.metadata -> 'api_calls') = 'number'
      then (s.metadata ->> 'api_calls')::integer end), 0)::integer as api_calls
  into c
  from public.sync_logs s where s.run_id = p_run_id;
  final_status := case
    when c.completed = c.total and p_not_attempted = 0 then 'completed' else 'partial' end;
  update public.system_job_logs j
  set status = final_status,
      completed_at = greatest(p_now, j.started_at),
      heartbeat_at = p_now,
      metadata = j.metadata || jsonb_build_object(
        'total_accounts', c.total + p_not_attempted, 'success_count', c.completed,
        'error_count', c.errors, 'skipped_count', c.skipped + p_not_attempted,
        'not_attempted', p_not_attempted, 'api_calls', c.api_calls)
  where j.id = p_run_id;
  return final_status;
end;
$$;

comment on function public.finish_dry_run(uuid, integer, timestamptz) is
  'Closes a dry run (completed, or partial when an account did not complete or was not attempted) with counts and api_calls from its sync_logs rows. Raises TS210, TS211.';

revoke all on function public.eligible_sync_accounts(uuid[], uuid, integer, timestamptz),
  public.begin_dry_run(jsonb, timestamptz),
  public.finish_dry_run(uuid, integer, timestamptz)
from public, anon, authenticated, service_role;
