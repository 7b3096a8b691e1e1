-- Run and step logs (DESIGN 4.3): what an operator reads at the SQL console.
--
--   system_job_logs  one row per run, however many invocations it takes (continuations and a
--                    resumed run update the same row)
--   sync_logs        one row per account and step of a run
--
-- The checks make a log row tell the truth on its own: a finished run has a completion time
-- and its counts, a running one has neither; a failure always says why.

create table public.system_job_logs (
  id uuid primary key default gen_random_uuid(),
  job_type text not null,
  -- What started it: pg_cron, a person, a continuation hand-off, or the next trigger
  -- resuming a run whose worker died.
  trigger text not null,
  status text not null default 'running',
  started_at timestamptz not null default now(),
  completed_at timestamptz,
  -- Liveness: renewed by the lock and lease heartbeats (extend_job_lock,
  -- claim_next_run_account, extend_run_account_leases, finish_run_account). A running row
  -- with an old heartbeat and no live lock is a dead run (public.find_stale_runs).
  heartbeat_at timestamptz not null default now(),
  invocations integer not null default 1,
  -- For sync runs, once finished: total_accounts, success_count, error_count, skipped_count
  -- (checked below), plus whatever explains the run (api_calls, interruptions, ...).
  metadata jsonb not null default '{}'::jsonb,
  error_code text,
  error_message text,
  constraint system_job_logs_job_type_check
    check (job_type in ('scheduled_sync', 'manual_sync', 'token_refresh', 'housekeeping')),
  constraint system_job_logs_trigger_check
    check (trigger in ('cron', 'manual', 'continuation', 'resume')),
  constraint system_job_logs_status_check
    check (status in ('running', 'completed', 'partial', 'failed', 'skipped')),
  constraint system_job_logs_completed_after_start check (completed_at >= started_at),
  constraint system_job_logs_running_iff_not_completed
    check ((status = 'running') = (completed_at is null)),
  constraint system_job_logs_failed_has_message
    check (status <> 'failed' or btrim(coalesce(error_message, '')) <> ''),
  constraint system_job_logs_invocations_positive check (invocations >= 1),
  constraint system_job_logs_metadata_is_object check (jsonb_typeof(metadata) = 'object'),
  constraint system_job_logs_finished_sync_has_counts
    check (status = 'running'
      or job_type not in ('scheduled_sync', 'manual_sync')
      or metadata ?& array['total_accounts', 'success_count', 'error_count', 'skipped_count'])
);

comment on table public.system_job_logs is
  'One row per job run (scheduled_sync, manual_sync, token_refresh, housekeeping), updated by every invocation of the run. Finished sync runs carry total_accounts, success_count, error_count, skipped_count in metadata. See view sync_run_overview.';

-- "The last runs" (sync_run_overview) and the retention delete.
create index system_job_logs_started_at_idx on public.system_job_logs (started_at desc);
-- Dead-run detection looks only at running rows.
create index system_job_logs_running_idx on public.system_job_logs (heartbeat_at)
  where status = 'running';

create table public.sync_logs (
  -- bigint identity: three rows per account per run, 96 runs a day.
  id bigint generated always as identity primary key,
  -- Every step belongs to a run (a token refresh or a manual sync has its own
  -- system_job_logs row), so the console can always tell which run did what. Removed with
  -- its run by the retention delete.
  run_id uuid not null references public.system_job_logs (id) on delete cascade,
  workspace_threads_account_id uuid not null
    references public.workspace_threads_accounts (id) on delete restrict,
  job_type text not null,
  status text not null,
  -- Which attempt of this account in the run (a rate-limited account is retried later in the
  -- same run).
  attempt integer not null default 1,
  started_at timestamptz not null,
  completed_at timestamptz not null default now(),
  items_processed integer not null default 0,
  error_code text,
  error_message text,
  metadata jsonb not null default '{}'::jsonb,
  constraint sync_logs_job_type_check
    check (job_type in ('sync_posts', 'sync_metrics', 'sync_account_insights', 'token_refresh')),
  constraint sync_logs_status_check
    check (status in ('completed', 'partial', 'failed', 'skipped')),
  constraint sync_logs_completed_after_start check (completed_at >= started_at),
  constraint sync_logs_attempt_positive check (attempt >= 1),
  constraint sync_logs_items_non_negative check (items_processed >= 0),
  -- A step that did not complete says what happened, in a code a program can match and a
  -- message a person can act on.
  constraint sync_logs_unsuccessful_has_error
    check (status = 'completed'
      or (btrim(coalesce(error_code, '')) <> '' and btrim(coalesce(error_message, '')) <> '')),
  constraint sync_logs_metadata_is_object check (jsonb_typeof(metadata) = 'object')
);

comment on table public.sync_logs is
  'One row per account and step (sync_posts, sync_metrics, sync_account_insights, token_refresh) of a run. failed/partial/skipped rows always carry error_code and error_message.';

create index sync_logs_run_idx on public.sync_logs (run_id);
-- An account's history (and the foreign key) ...
create index sync_logs_account_completed_idx
  on public.sync_logs (workspace_threads_account_id, completed_at desc);
-- ... and its last error, found without walking months of successes (account_sync_health).
create index sync_logs_account_errors_idx
  on public.sync_logs (workspace_threads_account_id, completed_at desc)
  where status <> 'completed';

alter table public.system_job_logs enable row level security;
alter table public.sync_logs enable row level security;
revoke all on table public.system_job_logs, public.sync_logs from anon, authenticated;
-- The identity column's sequence gets the same default grants as a table.
revoke all on sequence public.sync_logs_id_seq from anon, authenticated;
