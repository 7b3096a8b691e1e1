-- Erasing a workspace: the one deliberate way to delete history.
--
-- Everything a workspace owns references it with `on delete restrict` (accounts are
-- deactivated, not deleted, and snapshots are immutable), so `delete from workspaces` fails
-- while it has accounts. When a customer's data must go (the customer leaves, an erasure
-- request), public.erase_workspace() deletes it all in dependency order in one transaction.
-- It is the only code that sets `threads_sync.erasing`, the transaction-local setting under
-- which the immutability trigger lets a DELETE of snapshots and deltas through.

/**
 * erase_workspace(p_workspace_id) -> jsonb
 *
 * Deletes a workspace and everything under it: post metric deltas and snapshots, posts,
 * account insight deltas and snapshots, sync_logs and sync_run_accounts rows of its accounts,
 * account leases, tokens, accounts, and the workspace itself. Runs (system_job_logs) are
 * kept: they span workspaces. All or nothing (one transaction, the caller's).
 *
 * Returns the number of rows deleted per table, e.g. {"workspaces": 1, "workspace_threads_accounts": 2, ...}.
 * Raises: TS206 when the workspace does not exist.
 * Who: operators only (postgres); not executable by service_role or the API roles, because it
 * is irreversible. Security invoker.
 */
create function public.erase_workspace(p_workspace_id uuid)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  counts jsonb := '{}'::jsonb;
  n bigint;
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
  'Irreversibly deletes a workspace and all its accounts, posts, snapshots, deltas, tokens and per-account logs (the only path allowed to delete snapshots). Raises TS206 for an unknown workspace.';

revoke all on function public.erase_workspace(uuid) from public, anon, authenticated, service_role;
