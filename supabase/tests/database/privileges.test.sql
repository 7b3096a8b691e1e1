-- Privileges: the API roles (anon, authenticated) can neither read a table nor call a function;
-- RLS stays as the second line of defence; service_role can call what the sync needs and not
-- the operator-only functions.
begin;
select plan(15);

insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');

select is_empty(
  $$ select r.rolname, c.relname, p.privilege
     from pg_catalog.pg_class c
     join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     cross join (values ('anon'), ('authenticated')) r(rolname)
     cross join (values ('SELECT'), ('INSERT'), ('UPDATE'), ('DELETE'), ('TRUNCATE'), ('REFERENCES'), ('TRIGGER')) p(privilege)
     where n.nspname = 'public' and c.relkind in ('r', 'p', 'v')
       and pg_catalog.has_table_privilege(r.rolname, c.oid, p.privilege) $$,
  'anon and authenticated hold no privilege on any table or view in public');
select is_empty(
  $$ select r.rolname, c.relname
     from pg_catalog.pg_class c
     join pg_catalog.pg_namespace n on n.oid = c.relnamespace
     cross join (values ('anon'), ('authenticated')) r(rolname)
     where n.nspname = 'public' and c.relkind = 'S'
       and (pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'USAGE')
         or pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'SELECT')
         or pg_catalog.has_sequence_privilege(r.rolname, c.oid, 'UPDATE')) $$,
  'anon and authenticated hold no privilege on any sequence in public');
select is_empty(
  $$ select r.rolname, p.oid::regprocedure
     from pg_catalog.pg_proc p
     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     cross join (values ('anon'), ('authenticated')) r(rolname)
     where n.nspname = 'public'
       and not exists (select from pg_catalog.pg_depend d
                       where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
       and pg_catalog.has_function_privilege(r.rolname, p.oid, 'EXECUTE') $$,
  'anon and authenticated cannot execute any project function in public (nor can PUBLIC)');

-- Acting as the API roles ----------------------------------------------------------------------
set local role anon;
select throws_ok($$ select * from public.workspaces $$, '42501', 'permission denied for table workspaces',
  'anon cannot read workspaces');
select throws_ok($$ select * from public.workspace_threads_tokens $$, '42501', 'permission denied for table workspace_threads_tokens',
  'anon cannot read tokens');
select throws_ok($$ select * from public.sync_run_overview $$, '42501', 'permission denied for view sync_run_overview',
  'anon cannot read the console views');
select throws_ok($$ select * from public.claim_job_lock('scheduled-sync', 'anon', interval '1 minute') $$,
  '42501', 'permission denied for function claim_job_lock', 'anon cannot take the job lock');
reset role;
set local role authenticated;
select throws_ok($$ insert into public.workspaces (name) values ('mine') $$, '42501', 'permission denied for table workspaces',
  'authenticated cannot write workspaces');
select throws_ok($$ select public.record_post_metrics('aaaaaaaa-0000-0000-0000-000000000001', now(), '[]') $$,
  '42501', 'permission denied for function record_post_metrics', 'authenticated cannot record metrics');
select throws_ok($$ select * from public.system_job_logs $$, '42501', 'permission denied for table system_job_logs',
  'authenticated cannot read the run logs');
reset role;

-- RLS is still on underneath: even a mistaken grant shows nothing without a policy.
grant select on public.workspaces to authenticated;
set local role authenticated;
select is((select count(*) from public.workspaces), 0::bigint,
  'with a (mistaken) grant, RLS without a policy still returns no row to authenticated');
reset role;
revoke select on public.workspaces from authenticated;

-- service_role: what the sync needs, nothing irreversible ------------------------------------------
select is_empty(
  $$ select f from unnest(array[
       'public.upsert_posts(uuid,jsonb,timestamptz)', 'public.record_post_metrics(uuid,timestamptz,jsonb)',
       'public.record_account_insights(uuid,timestamptz,jsonb)',
       'public.claim_job_lock(text,text,interval,uuid,timestamptz)', 'public.extend_job_lock(text,text,interval,uuid,timestamptz)',
       'public.release_job_lock(text,text,timestamptz)', 'public.enqueue_run_accounts(uuid,uuid[],uuid,integer,timestamptz)',
       'public.claim_next_run_account(uuid,text,interval,timestamptz)',
       'public.finish_run_account(uuid,uuid,text,text,text,text,timestamptz,timestamptz)',
       'public.extend_run_account_leases(uuid,text,interval,timestamptz)', 'public.run_progress(uuid)',
       'public.find_stale_runs(interval,timestamptz)', 'public.close_stale_job_logs(interval,timestamptz)',
       'public.trigger_edge_function(text,jsonb)']) f
     where not pg_catalog.has_function_privilege('service_role', f::regprocedure, 'EXECUTE') $$,
  'service_role can execute every function the sync calls');
select is_empty(
  $$ select f from unnest(array['public.erase_workspace(uuid)', 'public.run_housekeeping(timestamptz)',
       'public.refuse_snapshot_change()']) f
     where pg_catalog.has_function_privilege('service_role', f::regprocedure, 'EXECUTE') $$,
  'service_role cannot execute the operator-only functions (erase_workspace, run_housekeeping) or the trigger function');
set local role service_role;
select throws_ok($$ select public.erase_workspace('11111111-1111-1111-1111-111111111111') $$,
  '42501', 'permission denied for function erase_workspace', 'service_role cannot erase a workspace');
select is((select count(*) from public.workspaces), 1::bigint,
  'service_role (bypassrls, Supabase''s default grants) reads the tables');
reset role;

select * from finish();
rollback;
