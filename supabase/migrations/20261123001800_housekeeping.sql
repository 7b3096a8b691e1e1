-- Housekeeping: keep the logs from growing forever (DESIGN 4.3).
--
-- pg_cron writes a cron.job_run_details row per job run and never deletes any: 96 a day for
-- the 15-minute sync alone. The project's own logs grow by one run row plus a few rows per
-- account per run. Retention:
--
--   cron.job_run_details                              14 days (debugging the schedule)
--   system_job_logs, sync_logs, sync_run_accounts     90 days (a quarter of run history)
--
-- Snapshots (L1/L2) are the product's history and are not trimmed (a snapshot is written
-- only when a value changed, see docs/database.md for the growth figure).
--
-- The job also closes runs whose worker died and that nobody resumed (close_stale_job_logs),
-- so no run stays 'running' however the sync is deployed.

/**
 * run_housekeeping(p_now) -> jsonb
 *
 * Closes stale runs, then deletes cron.job_run_details older than 14 days and finished runs
 * (system_job_logs with their sync_logs and sync_run_accounts) completed more than 90 days
 * before p_now. Running runs are never deleted. Records itself as a 'housekeeping' run in
 * system_job_logs (trigger 'cron' when pg_cron runs it, else 'manual').
 *
 * Returns {"stale_runs_closed", "cron_job_run_details", "system_job_logs", "sync_logs",
 *          "sync_run_accounts"}: rows closed or deleted.
 *
 * Who: pg_cron (job 'housekeeping', daily at 03:17 UTC) and operators, as postgres: it
 * deletes from cron.job_run_details, which the API roles cannot touch. Security invoker,
 * not executable by service_role or the API roles.
 */
create function public.run_housekeeping(p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  cron_retention constant interval := interval '14 days';
  log_retention constant interval := interval '90 days';
  stale_closed integer;
  cron_deleted integer;
  result jsonb;
begin
  stale_closed := public.close_stale_job_logs(p_now => p_now);

  delete from cron.job_run_details d
  where coalesce(d.end_time, d.start_time) < p_now - cron_retention;
  get diagnostics cron_deleted = row_count;

  with old_runs as (
    select j.id from public.system_job_logs j
    where j.status <> 'running' and j.completed_at < p_now - log_retention
  ),
  -- Deleted explicitly (not left to the cascade) so each count is reported.
  deleted_steps as (
    delete from public.sync_logs s using old_runs o where s.run_id = o.id returning 1
  ),
  deleted_progress as (
    delete from public.sync_run_accounts ra using old_runs o where ra.run_id = o.id returning 1
  ),
  deleted_runs as (
    delete from public.system_job_logs j using old_runs o where j.id = o.id returning 1
  )
  select jsonb_build_object(
    'stale_runs_closed', stale_closed,
    'cron_job_run_details', cron_deleted,
    'system_job_logs', (select count(*) from deleted_runs),
    'sync_logs', (select count(*) from deleted_steps),
    'sync_run_accounts', (select count(*) from deleted_progress))
  into result;

  -- Its own run record, so the console shows when housekeeping last ran and what it did.
  -- pg_cron's job runs in a backend of type 'pg_cron' (background-worker mode) or over a
  -- connection named 'pg_cron'.
  insert into public.system_job_logs (job_type, trigger, status, started_at, completed_at, metadata)
  select 'housekeeping',
    case when a.backend_type = 'pg_cron' or a.application_name = 'pg_cron' then 'cron' else 'manual' end,
    'completed', p_now, p_now + (clock_timestamp() - now()), result
  from pg_catalog.pg_stat_activity a
  where a.pid = pg_catalog.pg_backend_pid();

  return result;
end;
$$;

comment on function public.run_housekeeping(timestamptz) is
  'Daily (pg_cron job housekeeping): closes stale runs, trims cron.job_run_details (14 days) and finished runs with their sync_logs/sync_run_accounts (90 days); returns the counts.';

revoke all on function public.run_housekeeping(timestamptz) from public, anon, authenticated, service_role;

-- cron.schedule with a job name updates the job of that name if it exists, so re-applying
-- this leaves exactly one 'housekeeping' job. 03:17 UTC: off the quarter-hours the sync uses.
select cron.schedule('housekeeping', '17 3 * * *', 'select public.run_housekeeping()');
