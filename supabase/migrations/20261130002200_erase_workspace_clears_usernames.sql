-- Erasing a workspace also clears its accounts' usernames from the run logs.
--
-- system_job_logs rows are kept by erase_workspace (a run spans workspaces), but their
-- error_message names accounts: the circuit breaker's "last: ... [step sync_posts, account
-- @alice] ...", for instance. After an erasure request, those usernames must not remain.
-- erase_workspace now replaces every `@username` of the erased accounts with `@[erased]` in
-- the runs' error_message and metadata. Same signature, grants and behaviour otherwise
-- (create or replace keeps the grants: operators only).

/**
 * erase_workspace(p_workspace_id) -> jsonb
 *
 * Deletes a workspace and everything under it: post metric deltas and snapshots, posts,
 * account insight deltas and snapshots, sync_logs and sync_run_accounts rows of its accounts,
 * account leases, tokens, accounts, and the workspace itself. Runs (system_job_logs) are
 * kept, as they span workspaces, but every mention of the erased accounts' usernames
 * (`@username`, as the circuit breaker and run errors name accounts) in their error_message
 * and metadata is replaced with `@[erased]`. All or nothing (one transaction, the caller's).
 *
 * Returns the number of rows deleted per table, plus system_job_logs_redacted (runs whose text
 * was cleared), e.g. {"workspaces": 1, "workspace_threads_accounts": 2, ...}.
 * Raises: TS206 when the workspace does not exist.
 * Who: operators only (postgres); not executable by service_role or the API roles, because it
 * is irreversible. Security invoker.
 */
create or replace function public.erase_workspace(p_workspace_id uuid)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  counts jsonb := '{}'::jsonb;
  n bigint;
  -- A regex: `@name` not followed by a username character, for every username of the
  -- workspace (its regex metacharacters escaped: a `.` in a username is literal).
  mention text;
begin
  if not exists (select from public.workspaces w where w.id = p_workspace_id) then
    raise exception using errcode = 'TS206',
      message = format('Cannot erase workspace %s as it does not exist', p_workspace_id);
  end if;

  -- Transaction-local (true): gone at commit or rollback; also switched off again below so
  -- the rest of the caller's transaction is guarded as usual.
  perform pg_catalog.set_config('threads_sync.erasing', 'on', true);

  delete from public.workspace_threads_post_metrics_deltas d
  using public.workspace_threads_post_metrics m, public.workspace_threads_posts p,
    public.workspace_threads_accounts a
  where d.snapshot_id = m.id and m.workspace_threads_post_id = p.id
    and p.workspace_threads_account_id = a.id and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('workspace_threads_post_metrics_deltas', n);

  delete from public.workspace_threads_post_metrics m
  using public.workspace_threads_posts p, public.workspace_threads_accounts a
  where m.workspace_threads_post_id = p.id and p.workspace_threads_account_id = a.id
    and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('workspace_threads_post_metrics', n);

  delete from public.workspace_threads_posts p
  using public.workspace_threads_accounts a
  where p.workspace_threads_account_id = a.id and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('workspace_threads_posts', n);

  delete from public.workspace_threads_account_insights_deltas d
  using public.workspace_threads_account_insights i, public.workspace_threads_accounts a
  where d.snapshot_id = i.id and i.workspace_threads_account_id = a.id
    and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('workspace_threads_account_insights_deltas', n);

  delete from public.workspace_threads_account_insights i
  using public.workspace_threads_accounts a
  where i.workspace_threads_account_id = a.id and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('workspace_threads_account_insights', n);

  delete from public.sync_logs s
  using public.workspace_threads_accounts a
  where s.workspace_threads_account_id = a.id and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('sync_logs', n);

  delete from public.sync_run_accounts ra
  using public.workspace_threads_accounts a
  where ra.workspace_threads_account_id = a.id and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('sync_run_accounts', n);

  -- Runs span workspaces and stay; their text must not keep the erased usernames. A username
  -- shared with an account of another workspace is cleared there too: erasure errs on the
  -- side of removing. Texts are matched by regex on the whole row's text (metadata as JSON
  -- text: usernames need no JSON escaping), so a mention anywhere in metadata goes as well.
  select '@(' || string_agg(regexp_replace(a.username, '([.\[\](){}*+?^$|\\])', '\\\1', 'g'), '|')
           || ')(?![A-Za-z0-9._])'
    into mention
  from public.workspace_threads_accounts a where a.workspace_id = p_workspace_id;
  if mention is not null then
    update public.system_job_logs j
    set error_message = regexp_replace(j.error_message, mention, '@[erased]', 'g'),
        metadata = regexp_replace(j.metadata::text, mention, '@[erased]', 'g')::jsonb
    where j.error_message ~ mention or j.metadata::text ~ mention;
    get diagnostics n = row_count;
  else
    n := 0;
  end if;
  counts := counts || jsonb_build_object('system_job_logs_redacted', n);

  -- Leases and tokens would go by cascade; deleted explicitly to be counted.
  delete from public.account_sync_leases l
  using public.workspace_threads_accounts a
  where l.workspace_threads_account_id = a.id and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('account_sync_leases', n);

  delete from public.workspace_threads_tokens t
  using public.workspace_threads_accounts a
  where t.workspace_threads_account_id = a.id and a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('workspace_threads_tokens', n);

  delete from public.workspace_threads_accounts a where a.workspace_id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('workspace_threads_accounts', n);

  delete from public.workspaces w where w.id = p_workspace_id;
  get diagnostics n = row_count;
  counts := counts || jsonb_build_object('workspaces', n);

  perform pg_catalog.set_config('threads_sync.erasing', 'off', true);
  return counts;
end;
$$;

comment on function public.erase_workspace(uuid) is
  'Irreversibly deletes a workspace and all its accounts, posts, snapshots, deltas, tokens and per-account logs (the only path allowed to delete snapshots), and replaces its accounts'' @usernames in system_job_logs texts with @[erased]. Raises TS206 for an unknown workspace.';
