-- The schema as a contract: the tables and views users query, the functions the sync calls
-- (exact signatures), and the rules every object in public follows (RLS, comments, search_path,
-- security invoker, indexed foreign keys, clean plpgsql_check).
begin;
select plan(17);

-- Project functions in public: everything not installed by an extension (plpgsql_check
-- lives in public on the local stack).
create temporary view project_functions as
  select p.oid, p.proname, p.prosecdef, p.proconfig, p.prolang
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  where n.nspname = 'public'
    and not exists (select from pg_catalog.pg_depend d
                    where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e');

select tables_are('public', array[
  'workspaces', 'workspace_threads_accounts', 'workspace_threads_tokens', 'workspace_threads_posts',
  'workspace_threads_post_metrics', 'workspace_threads_post_metrics_deltas',
  'workspace_threads_account_insights', 'workspace_threads_account_insights_deltas',
  'system_job_locks', 'system_job_logs', 'sync_logs', 'sync_run_accounts', 'account_sync_leases',
  'sync_run_invocations', 'threads_api_rate_limits', 'monitoring_settings', 'alert_incidents',
  'alert_messages'],
  'public has exactly the contract''s tables');
select views_are('public', array['sync_run_overview', 'account_sync_health', 'accounts_failing_repeatedly',
  'account_sync_state', 'account_token_health', 'account_token_status', 'sync_freshness', 'alert_deliveries'],
  'public has the console views');

select is_empty(
  $$ select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p') and not c.relrowsecurity $$,
  'Row Level Security is enabled on every table in public');
select is_empty(
  $$ select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind in ('r', 'p', 'v')
       and pg_catalog.obj_description(c.oid, 'pg_class') is null $$,
  'every table and view in public has a comment');
select is_empty(
  $$ select proname from project_functions where pg_catalog.obj_description(oid, 'pg_proc') is null $$,
  'every function in public has a comment');
select is_empty(
  $$ select proname from project_functions where proconfig is null or not ('search_path=""' = any (proconfig)) $$,
  'every function in public pins search_path to empty (all names schema-qualified)');
select results_eq(
  $$ select proname::text collate "default" from project_functions where prosecdef order by 1 $$,
  $$ values ('trigger_edge_function') $$,
  'security definer only where needed: trigger_edge_function (reads Vault); everything else runs as its caller');
select results_eq(
  $$ select proname::text collate "default" from project_functions where 'enable_seqscan=off' = any (proconfig) order by 1 $$,
  $$ values ('record_account_insights'), ('record_post_metrics'), ('upsert_posts') $$,
  'the batch writers never use a plan that scans a table per row (enable_seqscan off for them only)');
select is_empty(
  $$ select c.relname from pg_catalog.pg_class c join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     where n.nspname = 'public' and c.relkind = 'v'
       and not coalesce('security_invoker=true' = any (c.reloptions), false) $$,
  'every view in public is security_invoker');

select results_eq(
  $$ select p.oid::regprocedure::text collate "default", pg_catalog.pg_get_function_result(p.oid)
     from project_functions p
     where p.proname in ('claim_job_lock', 'claim_next_run_account', 'close_stale_job_logs', 'enqueue_run_accounts',
       'erase_workspace', 'extend_job_lock', 'extend_run_account_leases', 'find_stale_runs', 'finish_run_account',
       'record_account_insights', 'record_post_metrics', 'refuse_snapshot_change', 'release_job_lock',
       'run_housekeeping', 'run_progress', 'upsert_posts')
     order by 1 $$,
  $$ values
    ('claim_job_lock(text,text,interval,uuid,timestamp with time zone)', 'TABLE(acquired boolean, previous_holder text, previous_run_id uuid, took_over boolean)'),
    ('claim_next_run_account(uuid,text,interval,timestamp with time zone)', 'uuid'),
    ('close_stale_job_logs(interval,timestamp with time zone)', 'integer'),
    ('enqueue_run_accounts(uuid,uuid[],uuid,integer,timestamp with time zone)', 'integer'),
    ('erase_workspace(uuid)', 'jsonb'),
    ('extend_job_lock(text,text,interval,uuid,timestamp with time zone)', 'boolean'),
    ('extend_run_account_leases(uuid,text,interval,timestamp with time zone)', 'integer'),
    ('find_stale_runs(interval,timestamp with time zone)', 'TABLE(run_id uuid, job_type text, trigger text, started_at timestamp with time zone, heartbeat_at timestamp with time zone, invocations integer, unfinished_accounts integer)'),
    ('finish_run_account(uuid,uuid,text,text,text,text,timestamp with time zone,timestamp with time zone)', 'boolean'),
    ('record_account_insights(uuid,timestamp with time zone,jsonb)', 'jsonb'),
    ('record_post_metrics(uuid,timestamp with time zone,jsonb)', 'jsonb'),
    ('refuse_snapshot_change()', 'trigger'),
    ('release_job_lock(text,text,timestamp with time zone)', 'boolean'),
    ('run_housekeeping(timestamp with time zone)', 'jsonb'),
    ('run_progress(uuid)', 'TABLE(total integer, pending integer, in_progress integer, completed integer, partial integer, failed integer, skipped integer, next_attempt_at timestamp with time zone)'),
    ('upsert_posts(uuid,jsonb,timestamp with time zone)', 'jsonb')
  $$,
  'the database layer''s functions have exactly these signatures and results (one overload each)');
select results_eq(
  $$ select pg_catalog.pg_get_function_arguments('public.claim_job_lock(text,text,interval,uuid,timestamptz)'::regprocedure) $$,
  $$ values ('p_job_name text, p_holder text, p_ttl interval, p_run_id uuid DEFAULT NULL::uuid, p_now timestamp with time zone DEFAULT now()') $$,
  'claim_job_lock takes named arguments with p_run_id and p_now optional');

-- Every foreign key is covered by an index whose leading columns are the key's columns (the
-- advisors' unindexed_foreign_keys rule; deletes of a parent would scan the child otherwise).
select is_empty(
  $$ select c.conrelid::regclass::text || ' ' || c.conname
     from pg_catalog.pg_constraint c
     join pg_catalog.pg_namespace n on n.oid = c.connamespace
     where n.nspname = 'public' and c.contype = 'f'
       and not exists (
         select from pg_catalog.pg_index i
         where i.indrelid = c.conrelid
           and (i.indkey::int2[])[0:array_length(c.conkey, 1) - 1] = c.conkey) $$,
  'every foreign key in public has an index');

select is_empty(
  $$ select p.proname, c.message
     from project_functions p
     cross join lateral plpgsql_check_function_tb(p.oid,
       coalesce((select t.tgrelid from pg_catalog.pg_trigger t where t.tgfoid = p.oid limit 1), 0),
       extra_warnings => true, performance_warnings => true) c
     where p.prolang = (select oid from pg_catalog.pg_language where lanname = 'plpgsql') $$,
  'plpgsql_check finds no error or warning in any plpgsql function');

select is_empty(
  $$ select table_name || '.' || column_name from information_schema.columns
     where table_schema = 'public' and is_nullable = 'NO'
       and (table_name in ('workspace_threads_post_metrics', 'workspace_threads_post_metrics_deltas',
                           'workspace_threads_account_insights', 'workspace_threads_account_insights_deltas')
            and column_name in ('views', 'likes', 'replies', 'reposts', 'quotes', 'shares', 'followers_count', 'clicks')
         or column_name like 'current\_%') $$,
  'every metric column is nullable: an absent API field is NULL, never 0');

select results_eq(
  $$ select c.relname::text collate "default", t.tgname::text collate "default" from pg_catalog.pg_trigger t join pg_catalog.pg_class c on c.oid = t.tgrelid
     where not t.tgisinternal and t.tgfoid = 'public.refuse_snapshot_change()'::regprocedure order by 1 $$,
  $$ values ('workspace_threads_account_insights', '_100_refuse_change'), ('workspace_threads_account_insights_deltas', '_100_refuse_change'),
            ('workspace_threads_post_metrics', '_100_refuse_change'), ('workspace_threads_post_metrics_deltas', '_100_refuse_change') $$,
  'the four L1/L2 tables carry the immutability trigger');

select is(
  (select pg_catalog.pg_get_indexdef(i.indexrelid) from pg_catalog.pg_index i
   where i.indexrelid = 'public.workspace_threads_tokens_one_primary_idx'::regclass),
  'CREATE UNIQUE INDEX workspace_threads_tokens_one_primary_idx ON public.workspace_threads_tokens USING btree (workspace_threads_account_id) INCLUDE (expires_at) WHERE (is_primary AND (revoked_at IS NULL))',
  'the token rule is a partial unique index: one primary unrevoked token per account');

select results_eq(
  $$ select jobname::text collate "default", schedule collate "default", command collate "default" from cron.job where jobname = 'housekeeping' $$,
  $$ values ('housekeeping', '17 3 * * *', 'select public.run_housekeeping()') $$,
  'exactly one pg_cron job named housekeeping runs daily at 03:17');

select * from finish();
rollback;
