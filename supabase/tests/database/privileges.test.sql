-- Privileges: the API roles (anon, authenticated) can neither read a table nor call a function;
-- RLS stays as the second line of defence; service_role calls no project function (the Edge
-- Functions connect as postgres), cannot write the run-control tables and never sees token
-- ciphertext.
begin;
select plan(21);

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

-- service_role: none of the project's functions (the functions connect as postgres) ---------------
select is_empty(
  $$ select p.oid::regprocedure
     from pg_catalog.pg_proc p
     join pg_catalog.pg_namespace n on n.oid = p.pronamespace
     where n.nspname = 'public'
       and not exists (select from pg_catalog.pg_depend d
                       where d.classid = 'pg_catalog.pg_proc'::regclass and d.objid = p.oid and d.deptype = 'e')
       and pg_catalog.has_function_privilege('service_role', p.oid, 'EXECUTE') $$,
  'service_role cannot execute any project function in public (run control, locks, tokens, trigger_edge_function)');
select is_empty(
  $$ select r.rolname from (values ('anon'), ('authenticated'), ('service_role')) r(rolname)
     where pg_catalog.has_column_privilege(r.rolname, 'public.workspace_threads_tokens', 'access_token_encrypted', 'SELECT')
        or pg_catalog.has_column_privilege(r.rolname, 'public.workspace_threads_tokens', 'access_token_encrypted', 'UPDATE')
        or pg_catalog.has_table_privilege(r.rolname, 'public.workspace_threads_tokens', 'INSERT') $$,
  'no API role can read or write token ciphertext');
select is_empty(
  $$ select c.oid::regclass from pg_catalog.pg_class c
     join pg_catalog.pg_attribute a on a.attrelid = c.oid and a.attname = 'access_token_encrypted'
     where c.relnamespace = 'public'::regnamespace and c.relkind in ('v', 'm')
       and pg_catalog.has_table_privilege('service_role', c.oid, 'SELECT') $$,
  'no view readable by service_role carries the ciphertext column');
select is_empty(
  $$ select t from unnest(array['system_job_locks', 'system_job_logs', 'sync_logs', 'sync_run_accounts', 'account_sync_leases']) t
     where pg_catalog.has_table_privilege('service_role', 'public.' || t, 'INSERT')
        or pg_catalog.has_table_privilege('service_role', 'public.' || t, 'UPDATE')
        or pg_catalog.has_table_privilege('service_role', 'public.' || t, 'DELETE') $$,
  'service_role cannot write the run-control tables (no run or lock by writing its row)');

-- Acting as each API role: no run started, no lock taken, no ciphertext read.
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username)
values ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice');
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
values ('aaaaaaaa-0000-0000-0000-000000000001', 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now() + interval '30 days', true);
create temporary table denied (role text, what text, sqlstate text) on commit drop;
do $$
declare
  r text;
  probe record;
  outcome text;
begin
  foreach r in array array['anon', 'authenticated', 'service_role'] loop
    for probe in select * from (values
        ('begin_sync_run', $q$ select * from public.begin_sync_run('scheduled_sync', 'cron', '{}', interval '5 minutes') $q$),
        ('begin_token_refresh_run', $q$ select * from public.begin_token_refresh_run('cron', '{}', interval '5 minutes') $q$),
        ('claim_job_lock', $q$ select * from public.claim_job_lock('scheduled_sync', 'intruder', interval '5 minutes') $q$),
        ('insert system_job_locks', $q$ insert into public.system_job_locks (job_name, locked_by, locked_at, expires_at, heartbeat_at) values ('scheduled_sync', 'intruder', now(), now() + interval '1 hour', now()) $q$),
        ('trigger_edge_function', $q$ select public.trigger_edge_function('scheduled-sync') $q$),
        ('read ciphertext', $q$ select access_token_encrypted from public.workspace_threads_tokens $q$),
        ('tokens_due_for_refresh', $q$ select * from public.tokens_due_for_refresh(interval '60 days', gen_random_uuid()) $q$)
      ) v(what, stmt)
    loop
      begin
        execute format('set local role %I', r);
        execute probe.stmt;
        outcome := 'allowed';
        reset role;
      exception when others then
        -- The subtransaction's rollback also undoes `set local role`.
        outcome := sqlstate;
      end;
      insert into denied values (r, probe.what, outcome);
    end loop;
  end loop;
end
$$;
select is_empty(
  $$ select role, what, sqlstate from denied where sqlstate <> '42501' $$,
  'anon, authenticated and service_role are each refused (42501) starting a sync or token refresh run, taking the lock (by function or by row), calling trigger_edge_function, and reading ciphertext or due tokens');
select is((select count(*)::int from denied), 21, 'every role tried every probe');
select is((select count(*)::int from public.system_job_logs), 0, '... and no run was started');

set local role service_role;
select throws_ok($$ select public.erase_workspace('11111111-1111-1111-1111-111111111111') $$,
  '42501', 'permission denied for function erase_workspace', 'service_role cannot erase a workspace');
select is((select count(*) from public.workspaces), 1::bigint,
  'service_role (bypassrls, Supabase''s default grants) still reads the domain tables');
select is((select count(*)::int from public.workspace_threads_tokens where expires_at > now()), 1,
  'service_role still reads the tokens'' other columns (token health views)');
reset role;

select * from finish();
rollback;
