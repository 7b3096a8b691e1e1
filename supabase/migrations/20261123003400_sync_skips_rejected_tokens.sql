-- The sync leaves accounts whose token the API rejected alone.
--
-- enqueue_run_accounts (20261123001600_run_progress.sql) picks the accounts of a run: active,
-- with a primary, unrevoked, unexpired token. A token the Threads API refused
-- (workspace_threads_tokens.rejected_at, set by mark_token_rejected) would only fail again
-- with the same error on every run, 96 times a day, so it is now excluded as well: the
-- account waits for a reconnect (connect-account), which stores a new, unrejected token, and
-- account_token_health shows it meanwhile. Same signature, grants and behaviour otherwise
-- (create or replace keeps the grants).

/**
 * enqueue_run_accounts(p_run_id, p_account_ids, p_workspace_id, p_limit, p_now) -> integer
 *
 * Adds the run's accounts as 'pending' rows: the eligible ones (active, with a primary,
 * unrevoked token that has not expired at p_now and that the API has not rejected),
 * optionally only those in p_account_ids and/or in p_workspace_id, least recently synced
 * first, at most p_limit in the whole run.
 *
 * Idempotent: accounts already in the run are left as they are, and p_limit counts them, so
 * calling it again (a continuation, a resumed run) adds nothing new. Named accounts that are
 * not eligible (unknown, inactive, no usable token, token rejected) are not enqueued.
 *
 * Returns the number of rows added by this call (0 on a repeat; run_progress gives the total).
 * Raises:
 *   TS211  the run does not exist
 *   TS212  the run is not 'running'
 *   TS210  p_limit is negative
 * Who: the sync (postgres, service_role). Security invoker.
 */
create or replace function public.enqueue_run_accounts(
  p_run_id uuid,
  p_account_ids uuid[] default null,
  p_workspace_id uuid default null,
  p_limit integer default null,
  p_now timestamptz default now()
) returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  run_status text;
  already integer;
  last_position integer;
  added integer;
begin
  if p_limit < 0 then
    raise exception using errcode = 'TS210', message = format('p_limit must be >= 0 or NULL: current value is %s', p_limit);
  end if;
  -- Lock the run row: two concurrent enqueues of one run take turns, so p_limit holds.
  select j.status into run_status from public.system_job_logs j where j.id = p_run_id for update;
  if not found then
    raise exception using errcode = 'TS211', message = format('Cannot enqueue accounts as run %s does not exist', p_run_id);
  end if;
  if run_status <> 'running' then
    raise exception using errcode = 'TS212',
      message = format('Cannot enqueue accounts as run %s is not running: current status is %s', p_run_id, run_status);
  end if;

  select count(*)::integer, coalesce(max(ra.position), 0) into already, last_position
  from public.sync_run_accounts ra where ra.run_id = p_run_id;

  insert into public.sync_run_accounts (
    run_id, workspace_threads_account_id, position, status, next_attempt_at, enqueued_at)
  select p_run_id, e.id, last_position + row_number() over (order by e.last_synced_at nulls first, e.id),
    'pending', p_now, p_now
  from (
    select a.id, a.last_synced_at
    from public.workspace_threads_accounts a
    where a.is_active
      and (p_account_ids is null or a.id = any (p_account_ids))
      and (p_workspace_id is null or a.workspace_id = p_workspace_id)
      and exists (
        select from public.workspace_threads_tokens t
        where t.workspace_threads_account_id = a.id
          and t.is_primary and t.revoked_at is null and t.expires_at > p_now
          -- A token the API refused (mark_token_rejected) would fail again: reconnect first.
          and t.rejected_at is null)
      and not exists (
        select from public.sync_run_accounts ra
        where ra.run_id = p_run_id and ra.workspace_threads_account_id = a.id)
    order by a.last_synced_at nulls first, a.id
    limit case when p_limit is null then null else greatest(p_limit - already, 0) end
  ) e
  on conflict (run_id, workspace_threads_account_id) do nothing;
  get diagnostics added = row_count;
  return added;
end;
$$;

comment on function public.enqueue_run_accounts(uuid, uuid[], uuid, integer, timestamptz) is
  'Adds the eligible accounts (active, primary unrevoked unexpired unrejected token; optionally by ids/workspace, up to p_limit per run) to a run as pending; idempotent; returns rows added. Raises TS210-TS212.';
