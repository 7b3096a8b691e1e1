-- Least privilege for the API roles.
--
-- The Edge Functions connect as `postgres` (SUPABASE_DB_URL); pg_cron runs its commands as
-- `postgres` too. `service_role` (the key behind supabase-js's admin client, and PostgREST's
-- bypass-RLS role) therefore needs none of the project's functions: until now it could start,
-- continue and finish runs, take and release the job locks, read due tokens with their
-- ciphertext, store tokens and POST to any Edge Function with the cron secret
-- (trigger_edge_function). A leaked service key now reaches none of that.
--
-- After this migration:
--   - anon, authenticated and service_role (and PUBLIC) execute no function listed below, in
--     any overload;
--   - service_role cannot write workspace_threads_tokens nor read its ciphertext column (the
--     other columns stay readable, for the token health views);
--   - service_role may read, but not write, the run-control tables (a lock or a run cannot be
--     taken by writing its row directly).
--
-- To extend: add the function's name to `fns` (every overload is covered, so a replaced
-- signature is too) or the table to `run_tables`. pgTAP (privileges.test.sql) checks that
-- service_role executes no project function at all, so a function added later without its
-- revoke fails the tests.

do $$
declare
  fns text[] := array[
    -- run control: starting, continuing, handing off and finishing runs
    'begin_sync_run', 'continue_sync_run', 'heartbeat_sync_run', 'hand_off_sync_run',
    'finish_sync_run', 'add_sync_run_figures', 'claim_stale_manual_runs',
    -- run progress: the accounts of a run and their leases
    'enqueue_run_accounts', 'claim_next_run_account', 'finish_run_account',
    'extend_run_account_leases', 'run_progress', 'find_stale_runs', 'close_stale_job_logs',
    -- the job locks
    'claim_job_lock', 'extend_job_lock', 'release_job_lock',
    -- token refresh runs (tokens_due_for_refresh returns ciphertext)
    'tokens_due_for_refresh', 'begin_token_refresh_run', 'hand_off_token_refresh_run',
    'finish_token_refresh_run',
    -- tokens and accounts
    'store_account_token', 'mark_token_rejected', 'connect_account', 'deactivate_account',
    'default_token_issued_at',
    -- the sync's writers and per-account state
    'upsert_posts', 'record_post_metrics', 'record_account_insights', 'defer_account_sync',
    'resume_account_sync',
    -- POSTs to Edge Functions with the cron secret from Vault
    'trigger_edge_function',
    -- trigger functions (fired by the table, never called)
    '_500_track_account_sync_state', 'refuse_snapshot_change',
    -- already operator-only; listed so the rule reads in one place
    'erase_workspace', 'run_housekeeping'
  ];
  run_tables text[] := array[
    'system_job_locks', 'system_job_logs', 'sync_logs', 'sync_run_accounts',
    'account_sync_leases'
  ];
  fn regprocedure;
  t text;
begin
  for fn in
    select p.oid::regprocedure
    from pg_catalog.pg_proc p
    where p.pronamespace = 'public'::regnamespace and p.proname = any (fns)
  loop
    execute format('revoke all on function %s from public, anon, authenticated, service_role', fn);
  end loop;
  foreach t in array run_tables loop
    execute format(
      'revoke insert, update, delete, truncate, references, trigger on table public.%I from service_role', t);
  end loop;
end
$$;

-- Token ciphertext: nothing for the API roles, whatever RLS says (service_role bypasses RLS).
revoke all on table public.workspace_threads_tokens from anon, authenticated, service_role;

-- service_role keeps reading every other column of the tokens table, so the security-invoker
-- views over it (account_token_health, account_sync_state) still answer it. A column added
-- later is not granted: deny by default.
do $$
declare
  cols text;
begin
  select string_agg(pg_catalog.quote_ident(a.attname), ', ' order by a.attnum) into cols
  from pg_catalog.pg_attribute a
  where a.attrelid = 'public.workspace_threads_tokens'::regclass and a.attnum > 0
    and not a.attisdropped and a.attname <> 'access_token_encrypted';
  execute format('grant select (%s) on table public.workspace_threads_tokens to service_role', cols);
end
$$;
