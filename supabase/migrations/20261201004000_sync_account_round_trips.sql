-- Fewer database round trips per account of a sync run (issue 12, item 2: CPU per account).
--
-- On the hosted platform every round trip costs the invocation CPU (postgres.js builds the
-- message and writes it to the socket, then parses the answer): about a third of an
-- account's CPU went to socket writes. An account used to cost, besides its steps' reads and
-- writes: a claim, a read of its row and token, three sync_logs inserts and a finish. Now:
--
--   account_api_calls_24h()          the 24-hour call count the budget check reads, one rule
--                                    for the sync, its claim and the dry run
--   claim_run_account_for_sync()     claim_next_run_account() and, in the same call, what
--                                    the sync needs of the claimed account: its row and
--                                    token, the run's start, the 24-hour call count, and the
--                                    steps an earlier attempt of this run completed
--   finish_run_account_with_logs()   finish_run_account() together with the sync_logs rows
--                                    not written yet (the last step's, and the skipped ones)
--
-- claim_next_run_account and finish_run_account are unchanged and still what these call. The
-- claim reads no synced table (posts, metrics): an operator's lock on one of those must fail
-- the step that needs it (database_timeout), not the claim and with it the worker.

/**
 * account_api_calls_24h(p_account_id, p_now) -> integer
 *
 * The account's Threads API calls in the 24 hours before p_now: the sum of its sync_logs
 * rows' metadata.api_calls (sync runs and dry runs alike), which the per-account call budget
 * (SYNC_ACCOUNT_DAILY_CALL_BUDGET) is checked against. Uses sync_logs_account_completed_idx.
 * Who: the sync (postgres). Security invoker.
 */
create function public.account_api_calls_24h(
  p_account_id uuid,
  p_now timestamptz default now()
) returns integer
language sql
stable
set search_path = ''
as $$
  select coalesce(sum((s.metadata ->> 'api_calls')::int), 0)::int
  from public.sync_logs s
  where s.workspace_threads_account_id = p_account_id
    and s.completed_at > p_now - interval '24 hours';
$$;

comment on function public.account_api_calls_24h(uuid, timestamptz) is
  'The account''s Threads API calls in the last 24 hours (sum of sync_logs.metadata.api_calls), for the per-account call budget.';

/**
 * claim_run_account_for_sync(p_run_id, p_worker, p_lease, p_now)
 *   -> table (account_id, workspace_id, threads_user_id, username, last_synced_at, token_id,
 *             access_token_encrypted, token_expires_at, token_rejected_at, attempts,
 *             run_started_at, calls_24h, steps_done)
 *
 * Claims the run's next due account exactly as claim_next_run_account(p_run_id, p_worker,
 * p_lease, p_now) does (and raises what it raises: TS210), and returns one row describing it:
 *   token_*           the primary unrevoked token (NULL columns when there is none)
 *   attempts          this attempt's number in the run (1 for the first)
 *   calls_24h         account_api_calls_24h(account, p_now)
 *   steps_done        the steps (sync_logs.job_type) an earlier attempt of this run completed;
 *                     empty on the first attempt
 * No row when nothing is claimable now.
 * Who: the sync (postgres). Security invoker.
 */
create function public.claim_run_account_for_sync(
  p_run_id uuid,
  p_worker text,
  p_lease interval,
  p_now timestamptz default now()
) returns table (
  account_id uuid,
  workspace_id uuid,
  threads_user_id text,
  username text,
  last_synced_at timestamptz,
  token_id uuid,
  access_token_encrypted text,
  token_expires_at timestamptz,
  token_rejected_at timestamptz,
  attempts integer,
  run_started_at timestamptz,
  calls_24h integer,
  steps_done text[]
)
language plpgsql
volatile
set search_path = ''
as $$
declare
  claimed uuid;
begin
  claimed := public.claim_next_run_account(p_run_id, p_worker, p_lease, p_now);
  if claimed is null then
    return;
  end if;
  return query
  select a.id, a.workspace_id, a.threads_user_id, a.username, a.last_synced_at,
    t.id, t.access_token_encrypted, t.expires_at, t.rejected_at, ra.attempts,
    j.started_at, public.account_api_calls_24h(a.id, p_now),
    -- Only a later attempt can find steps done (after a deadline or a lost worker).
    case when ra.attempts > 1 then array(
      select distinct l.job_type from public.sync_logs l
      where l.run_id = p_run_id and l.workspace_threads_account_id = a.id
        and l.status = 'completed')
    else '{}'::text[] end
  from public.sync_run_accounts ra
  join public.system_job_logs j on j.id = ra.run_id
  join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
  left join public.workspace_threads_tokens t on t.workspace_threads_account_id = a.id
    and t.is_primary and t.revoked_at is null
  where ra.run_id = p_run_id and ra.workspace_threads_account_id = claimed;
end;
$$;

comment on function public.claim_run_account_for_sync(uuid, text, interval, timestamptz) is
  'claim_next_run_account plus what the sync needs of the claimed account (row, token, run start, 24-hour calls, steps done in earlier attempts), in one call; no row when nothing is claimable. Raises TS210.';

/**
 * finish_run_account_with_logs(p_run_id, p_account_id, p_worker, p_status, p_error_code,
 *                              p_error_message, p_retry_at, p_logs, p_now) -> boolean
 *
 * Writes p_logs, a JSON array of the account's sync_logs rows in this run not written yet
 * (objects with job_type, status, attempt, started_at, completed_at, items_processed,
 * error_code, error_message, metadata; absent keys take the column defaults), then records
 * the outcome with finish_run_account(p_run_id, p_account_id, p_worker, p_status,
 * p_error_code, p_error_message, p_retry_at, p_now), in one transaction. The rows are written
 * whether or not p_worker still holds the account, as separate inserts would be: they are
 * what happened.
 * Returns finish_run_account's answer. Raises TS213 (finish_run_account), and the table's
 * check violations (23514) for a row without its error code and message.
 * Who: the sync (postgres). Security invoker.
 */
create function public.finish_run_account_with_logs(
  p_run_id uuid,
  p_account_id uuid,
  p_worker text,
  p_status text,
  p_error_code text,
  p_error_message text,
  p_retry_at timestamptz,
  p_logs jsonb,
  p_now timestamptz default now()
) returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  insert into public.sync_logs (run_id, workspace_threads_account_id, job_type, status,
    attempt, started_at, completed_at, items_processed, error_code, error_message, metadata)
  select p_run_id, p_account_id, l.job_type, l.status, coalesce(l.attempt, 1), l.started_at,
    coalesce(l.completed_at, p_now), coalesce(l.items_processed, 0), l.error_code,
    l.error_message, coalesce(l.metadata, '{}'::jsonb)
  from jsonb_to_recordset(coalesce(p_logs, '[]'::jsonb)) as l (job_type text, status text,
    attempt integer, started_at timestamptz, completed_at timestamptz, items_processed integer,
    error_code text, error_message text, metadata jsonb);
  return public.finish_run_account(p_run_id, p_account_id, p_worker, p_status, p_error_code,
    p_error_message, p_retry_at, p_now);
end;
$$;

comment on function public.finish_run_account_with_logs(uuid, uuid, text, text, text, text, timestamptz, jsonb, timestamptz) is
  'Writes the account''s pending sync_logs rows and records its outcome (finish_run_account) in one call. Raises TS213.';

-- The sync's, like the functions they wrap (20261130002100): no API role executes them.
revoke all on function public.account_api_calls_24h(uuid, timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.claim_run_account_for_sync(uuid, text, interval, timestamptz)
  from public, anon, authenticated, service_role;
revoke all on function public.finish_run_account_with_logs(uuid, uuid, text, text, text, text, timestamptz, jsonb, timestamptz)
  from public, anon, authenticated, service_role;
