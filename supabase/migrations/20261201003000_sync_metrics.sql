-- The figures the metrics Edge Function serves to Prometheus (issue 15, item 3).
--
--   sync_logs_completed_at_idx   the 24-hour window over step rows (API calls, rate-limit
--                                answers) as one index range scan
--   collect_sync_metrics()       every figure of the endpoint in one statement: runs by job
--                                type and status, run durations, accounts by health and by
--                                token state, freshness (sync_freshness), open incidents
--                                (alert_incidents), API calls and rate-limit answers in 24 hours,
--                                the highest account's share of its call budget
--
-- A scrape must stay cheap whatever the history holds: nothing here reads the snapshot tables
-- (post metrics, account insights) or more than 24 hours of logs. Its cost grows with the
-- accounts (one pass over account_sync_state, two index probes per account) and with the step
-- rows of the last 24 hours (3 per account per run), never with the 90 days of history.
-- Measured (EXPLAIN ANALYZE): 200 accounts, 7 days of 15-minute runs (403,200 step rows, 57,600
-- in the window): 79-87 ms, 2,700 buffers (all in memory), all but 5 ms of it summing the
-- window's step rows (the highest account's share needs every account's sum).

-- Without it the 24-hour window over sync_logs is a scan of every step row kept (90 days).
create index sync_logs_completed_at_idx on public.sync_logs (completed_at);

/**
 * collect_sync_metrics(p_daily_call_budget, p_now) -> table (metric, labels, value)
 *
 * One row per sample of the metrics endpoint (Prometheus text format, rendered by
 * _shared/metrics/exposition.ts); labels is a flat jsonb object of text values.
 *
 *   threads_sync_runs_24h{job_type, status}              runs started in the last 24 hours,
 *                                                        plus every run still running; every
 *                                                        known job type and status, 0 included
 *   threads_sync_run_duration_seconds_24h{job_type, quantile}
 *                                                        0.5, 0.95 and 1 (the longest) of the
 *                                                        runs that ended in the window
 *                                                        (skipped runs left out: they last
 *                                                        milliseconds and would hide slow runs)
 *   threads_sync_last_run_duration_seconds{job_type}     the latest such run's duration
 *   threads_sync_last_run_end_timestamp_seconds{job_type} when it ended (Unix seconds)
 *   threads_sync_accounts{state}                         accounts by account_sync_state.state
 *   threads_sync_account_tokens{status}                  active accounts by their primary
 *                                                        token's account_token_status.token_status
 *   threads_sync_fresh_share                             sync_freshness's overall fresh_share
 *   threads_sync_oldest_complete_sync_age_seconds        ... and oldest_complete_sync_age (both
 *                                                        left out while NULL)
 *   threads_sync_fresh_accounts, threads_sync_active_accounts, threads_sync_freshness_target_seconds
 *                                                        the share's terms and its target
 *   threads_sync_open_incidents{kind}                    open alert incidents past their
 *                                                        notify_after, every kind (0 included)
 *   threads_sync_api_calls_24h                           Threads API calls of every step in
 *                                                        24 hours (sync_logs metadata.api_calls,
 *                                                        the sum the call budget reads)
 *   threads_sync_api_rate_limited_24h                    rate-limit answers among them
 *                                                        (metadata.api_rate_limit_errors)
 *   threads_sync_account_call_budget_max_share           the highest account's 24-hour calls
 *                                                        over p_daily_call_budget (at 0.8 the
 *                                                        sync defers the account for an hour)
 *
 * Arguments: p_daily_call_budget is SYNC_ACCOUNT_DAILY_CALL_BUDGET (the function's config);
 * p_now is the end of the windows (tests pass their own); the views read (account_sync_state,
 * account_token_status, sync_freshness) judge as of now().
 * Raises: TS251 when p_daily_call_budget is not positive.
 * Who: the metrics Edge Function (postgres) and operators. Security invoker.
 */
create function public.collect_sync_metrics(
  p_daily_call_budget integer,
  p_now timestamptz default now()
) returns table (metric text, labels jsonb, value double precision)
language plpgsql
stable
set search_path = ''
-- A scrape is a few small scans: compiling them (JIT, on when the estimate is high, as the
-- health view's per-account probes make it) took 2.4 s of a 3 s scrape; parallel workers
-- cost more to start than the 24-hour window takes to read.
set jit = off
set max_parallel_workers_per_gather = 0
as $$
begin
  if p_daily_call_budget is null or p_daily_call_budget < 1 then
    raise exception using errcode = 'TS251',
      message = format('p_daily_call_budget must be a positive integer: current value is %s',
        coalesce(p_daily_call_budget::text, 'NULL'));
  end if;
  return query
  with runs as (
    -- started_at index for the window, the partial running index for old running runs.
    select j.job_type, j.status, j.started_at, j.completed_at
    from public.system_job_logs j
    where j.started_at > p_now - interval '24 hours' or j.status = 'running'
  ),
  -- The check constraint's job types and statuses, so a series exists (as 0) before its
  -- first run; a job type added later still shows up once it runs.
  job_types as (
    select unnest(array['scheduled_sync', 'manual_sync', 'token_refresh', 'housekeeping',
      'dry_run']) as job_type
    union
    select r.job_type from runs r
  ),
  statuses as (
    select unnest(array['running', 'completed', 'partial', 'failed', 'skipped']) as status
  ),
  run_counts as (
    select r.job_type, r.status, count(*) as runs from runs r group by r.job_type, r.status
  ),
  ended as (
    select r.job_type, r.completed_at,
      extract(epoch from r.completed_at - r.started_at)::double precision as seconds
    from runs r
    where r.status not in ('running', 'skipped') and r.completed_at > p_now - interval '24 hours'
  ),
  -- One pass over each health view (the states are theirs, not repeated here).
  account_states as (
    select s.state, count(*) as accounts from public.account_sync_state s group by s.state
  ),
  -- The token rule's own view (account_token_status, 20261201002900), not
  -- account_token_health: that view also finds each account's last token refresh, a walk back
  -- through all of the account's step rows (measured: 600 ms for 200 accounts with 7 days of
  -- history), which a scrape must not pay.
  token_states as (
    select t.token_status, count(*) as accounts
    from public.account_token_status t
    where t.is_active
    group by t.token_status
  ),
  steps as (
    -- The call budget's sum (account_api_calls_24h, 20261201004000), for every account at once.
    -- public.jsonb_int's test written out: a function with its own search_path is not
    -- inlined, and calling it per row made a scrape 30 times slower (2.1 s for 58,000 rows).
    select s.workspace_threads_account_id as account_id,
      coalesce(sum(case when jsonb_typeof(s.metadata -> 'api_calls') = 'number'
        then (s.metadata ->> 'api_calls')::numeric end), 0) as calls,
      coalesce(sum(case when jsonb_typeof(s.metadata -> 'api_rate_limit_errors') = 'number'
        then (s.metadata ->> 'api_rate_limit_errors')::numeric end), 0) as rate_limited
    from public.sync_logs s
    where s.completed_at > p_now - interval '24 hours'
    group by s.workspace_threads_account_id
  )
  select 'threads_sync_runs_24h', jsonb_build_object('job_type', t.job_type, 'status', st.status),
    coalesce(c.runs, 0)::double precision
  from job_types t cross join statuses st
  left join run_counts c on c.job_type = t.job_type and c.status = st.status
  union all
  select 'threads_sync_run_duration_seconds_24h',
    jsonb_build_object('job_type', e.job_type, 'quantile', q.quantile),
    case q.quantile
      when '0.5' then percentile_cont(0.5) within group (order by e.seconds)
      when '0.95' then percentile_cont(0.95) within group (order by e.seconds)
      else max(e.seconds)
    end
  from ended e cross join (values ('0.5'), ('0.95'), ('1')) q(quantile)
  group by e.job_type, q.quantile
  union all
  (select distinct on (e.job_type) 'threads_sync_last_run_duration_seconds',
    jsonb_build_object('job_type', e.job_type), e.seconds
  from ended e
  order by e.job_type, e.completed_at desc)
  union all
  select 'threads_sync_last_run_end_timestamp_seconds', jsonb_build_object('job_type', e.job_type),
    extract(epoch from max(e.completed_at))::double precision
  from ended e
  group by e.job_type
  union all
  select 'threads_sync_accounts', jsonb_build_object('state', state),
    coalesce(a.accounts, 0)::double precision
  from unnest(array['healthy', 'never_synced', 'rate_limited', 'token_rejected', 'failing',
    'paused', 'inactive']) k(state)
  full join account_states a using (state)
  union all
  select 'threads_sync_account_tokens', jsonb_build_object('status', token_status),
    coalesce(t.accounts, 0)::double precision
  from unnest(array['ok', 'expiring_soon', 'expired', 'rejected', 'missing']) k(token_status)
  full join token_states t using (token_status)
  union all
  -- The freshness objective's overall row (sync_freshness, one pass over the active accounts);
  -- the share and the age are left out while there is nothing to measure (no active account,
  -- no complete sync), rather than served as a 0 that would page someone.
  select v.metric, '{}'::jsonb, v.value
  from public.sync_freshness f
  cross join lateral (values
    ('threads_sync_fresh_share', f.fresh_share::double precision),
    ('threads_sync_oldest_complete_sync_age_seconds',
      extract(epoch from f.oldest_complete_sync_age)::double precision),
    ('threads_sync_fresh_accounts', f.fresh_accounts::double precision),
    ('threads_sync_active_accounts', f.active_accounts::double precision),
    ('threads_sync_freshness_target_seconds', f.target_minutes * 60::double precision)
  ) v(metric, value)
  where f.scope = 'overall' and v.value is not null
  union all
  -- Open incidents of the alerts (alert_incidents' partial index of open rows), counted once
  -- they are incidents by the alert's own rule (notify_after passed: e.g. rate limited for an
  -- hour), so this figure and the webhook's messages agree. Every kind, 0 included.
  select 'threads_sync_open_incidents', jsonb_build_object('kind', kind),
    coalesce(i.incidents, 0)::double precision
  from unnest(array['run_failed', 'account_paused', 'token_rejected', 'account_rate_limited',
    'token_expiring', 'freshness_low']) k(kind)
  full join (
    select o.kind, count(*) as incidents
    from public.alert_incidents o
    where o.resolved_at is null and o.notify_after <= p_now
    group by o.kind
  ) i using (kind)
  union all
  select 'threads_sync_api_calls_24h', '{}'::jsonb,
    coalesce((select sum(c.calls) from steps c), 0)::double precision
  union all
  select 'threads_sync_api_rate_limited_24h', '{}'::jsonb,
    coalesce((select sum(c.rate_limited) from steps c), 0)::double precision
  union all
  select 'threads_sync_account_call_budget_max_share', '{}'::jsonb,
    coalesce((select max(c.calls) from steps c), 0)::double precision / p_daily_call_budget;
end;
$$;

comment on function public.collect_sync_metrics(integer, timestamptz) is
  'Every sample of the metrics endpoint in one statement (runs, durations, account health and token states, 24-hour API calls and rate-limit answers, highest call-budget share); reads no snapshot table. Raises TS251.';

-- The functions connect as postgres; no API role reads the project's figures
-- (20261130002100's rule: service_role executes no project function).
revoke all on function public.collect_sync_metrics(integer, timestamptz)
from public, anon, authenticated, service_role;
