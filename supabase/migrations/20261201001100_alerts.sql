-- Alerts through a webhook (issue 15, item 2): the database tells an operator's Slack,
-- Discord or any JSON receiver when syncing breaks, once per incident, and again when it is over.
--
--   alert_conditions(p_now)  what is wrong right now (kind, subject, summary, details)
--   alert_incidents          one row per incident; at most one open per (kind, subject);
--                            repeats within it are counted (occurrences), not sent
--   alert_messages           the outbox: one 'opened' and one 'resolved' message per incident
--   alert_deliveries         each message's delivery state; failed ones are retried every tick
--   alert_tick()             pg_cron job 'alert-tick', every minute: evaluate, then send
--
-- Why a pg_cron tick and not a hook at the end of each run: half the conditions happen with no
-- run at all (freshness decays, a token nears expiry, a run's worker dies and the run never
-- "ends"), and a hook inside the functions would stay silent exactly when the functions are
-- down. One set-based evaluation a minute costs a few index reads.
--
-- A systemic problem is one incident, not N: the four account kinds (account_paused,
-- token_rejected, token_expiring, account_rate_limited) open one incident per account, but
-- when more than 3 accounts not already in an incident of their own have the same kind, they
-- are folded into ONE incident of subject 'accounts' (details: account_count and the first 20
-- accounts; a change in the set counts as a repeat). Per-account incidents open before stay as
-- they are until their own account recovers (no flood of "resolved" either); new accounts of
-- that kind join the 'accounts' incident while it is open, and it is resolved, once, when no
-- account it covers is left.
--
-- freshness_low has a hold and hysteresis, so a share hovering at the threshold is not an
-- incident a minute: its message waits until the incident is 10 minutes old, and the incident
-- ends only after 5 minutes (ticks) with the share at or above the threshold; a dip back below
-- within those 5 minutes continues the same incident.
--
-- No secret in a body (a second layer after the functions' scrubbing): every free text is
-- passed through redact_alert_text (access_token=..., Bearer ...); `text` escapes &, <, > for
-- Slack and `allowed_mentions` is empty for Discord, so quoted upstream text pings nobody.
--
-- Retention: run_housekeeping (replaced at the end) deletes, after 30 days, resolved incidents
-- (with their messages) and delivered or dropped messages.
--
-- Delivery: net.http_post after commit, to the URL in Vault secret `alert_webhook_url`, never
-- retried by pg_net itself; the next tick reads the outcome from net._http_response and sends
-- again what did not get a 2xx. Messages carry ids, codes and the sync's own (already scrubbed)
-- error messages; never the webhook URL, a token or a secret.

alter table public.monitoring_settings
  -- 0.95: with the 30-minute target, more than 1 account in 20 two runs behind is an incident.
  add column alert_freshness_min_share numeric not null default 0.95
    constraint monitoring_settings_alert_share_range check (alert_freshness_min_share between 0 and 1);

comment on column public.monitoring_settings.alert_freshness_min_share is
  'Alert when the overall sync_freshness share falls below this (ALERT_FRESHNESS_MIN_SHARE, default 0.95).';

create table public.alert_incidents (
  id bigint generated always as identity primary key,
  kind text not null constraint alert_incidents_kind check (kind in (
    'run_failed', 'account_paused', 'token_rejected', 'account_rate_limited', 'token_expiring',
    'freshness_low')),
  -- What it is about: a job type, an account id, or 'overall'.
  subject text not null,
  summary text not null,
  details jsonb not null default '{}'::jsonb,
  opened_at timestamptz not null,
  last_seen_at timestamptz not null,
  -- The 'opened' message waits until then (a condition that must last, e.g. rate limited for
  -- an hour); an incident over before it is resolved without any message.
  notify_after timestamptz not null,
  notified_at timestamptz,
  -- How long the condition must stay gone before the incident ends (hysteresis; 0: at once).
  clear_after interval not null default interval '0',
  resolved_at timestamptz,
  occurrences integer not null default 1,
  -- What makes a repeat: a new failed run id, a new pause, ... (NULL: the state itself).
  last_occurrence_key text,
  constraint alert_incidents_resolved_after_opened check (resolved_at is null or resolved_at >= opened_at)
);

create unique index alert_incidents_one_open on public.alert_incidents (kind, subject)
  where resolved_at is null;
create index alert_incidents_opened_at on public.alert_incidents (opened_at desc);

comment on table public.alert_incidents is
  'Alert incidents: one open row per (kind, subject), occurrences counts repeats, resolved_at when the condition ended. Open ones: select * from alert_incidents where resolved_at is null;';

create table public.alert_messages (
  id bigint generated always as identity primary key,
  incident_id bigint references public.alert_incidents (id) on delete cascade,
  event text not null constraint alert_messages_event check (event in ('opened', 'resolved', 'test')),
  body jsonb not null,
  created_at timestamptz not null default now(),
  attempts integer not null default 0,
  -- The pg_net request of the last attempt (in flight until its response is read).
  request_id bigint,
  last_attempt_at timestamptz,
  last_status_code integer,
  last_error text,
  delivered_at timestamptz,
  dropped_at timestamptz,
  dropped_reason text constraint alert_messages_dropped_reason check (dropped_reason in ('no_url', 'expired')),
  constraint alert_messages_test_has_no_incident check ((event = 'test') = (incident_id is null)),
  constraint alert_messages_dropped_has_reason check ((dropped_at is null) = (dropped_reason is null))
);

create index alert_messages_undelivered on public.alert_messages (id)
  where delivered_at is null and dropped_at is null;
create index alert_messages_incident on public.alert_messages (incident_id);

comment on table public.alert_messages is
  'Alert outbox: body sent to the Vault alert_webhook_url through pg_net; attempts, last status, delivered or dropped (no_url, expired after 24 h). Read alert_deliveries.';

alter table public.alert_incidents enable row level security;
alter table public.alert_messages enable row level security;
revoke all on public.alert_incidents, public.alert_messages from anon, authenticated;
revoke all on sequence public.alert_incidents_id_seq, public.alert_messages_id_seq from anon, authenticated;

/**
 * redact_alert_text(p_text) -> text
 *
 * The SQL twin of the functions' `redact` (_shared/platform/log.ts): `access_token=...` and
 * `Bearer ...` become `[redacted]`. A second layer: the sync already scrubs what it stores, and
 * this keeps a token out of a webhook body should some stored text have escaped it. A match
 * never spans a quote or a backslash, so it may run over JSON text and leave it valid JSON.
 * Who: alert_message_body. Immutable, security invoker.
 */
create function public.redact_alert_text(p_text text)
returns text
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.regexp_replace(
    pg_catalog.regexp_replace(p_text, '(access_token=)[^&\s"''\\]+', '\1[redacted]', 'gi'),
    '(Bearer\s+)[A-Za-z0-9._~+/=-]+', '\1[redacted]', 'g');
$$;

comment on function public.redact_alert_text(text) is
  'Redacts access_token=... and Bearer ... in a text (as the functions'' redact does); used for every alert body.';

/**
 * alert_conditions(p_now) -> table (kind, subject, hold, clear_after, occurrence_key, summary, details)
 *
 * Everything wrong at p_now, one row per (kind, subject):
 *   run_failed            the last finished scheduled_sync or token_refresh run failed
 *                         (a circuit breaker says so in its summary); subject: the job type
 *   account_paused        an active account was paused after failing run after run
 *   token_rejected        the API refused an active account's token (reconnect it)
 *   account_rate_limited  an active account was deferred for its rate limit or call budget and
 *                         has not synced completely since, for over an hour (hold 1 hour)
 *   token_expiring        an active account's token expires within 7 days (refresh has not
 *                         renewed it; rejected tokens have their own kind)
 *   freshness_low         the overall sync_freshness share is below alert_freshness_min_share
 *                         (hold 10 minutes, clear_after 5 minutes: see the header)
 * The four account kinds have subject = the account id, except in a systemic problem: accounts
 * not already in an open incident of their own are folded into ONE row of subject 'accounts'
 * when more than 3 of them have that kind, or while such an 'accounts' incident is open.
 * Who: alert_tick, operators (postgres). Security invoker.
 */
create function public.alert_conditions(p_now timestamptz default now())
returns table (kind text, subject text, hold interval, clear_after interval, occurrence_key text,
  summary text, details jsonb)
language sql
stable
set search_path = ''
as $$
  with last_runs as (
    select distinct on (j.job_type) j.*
    from public.system_job_logs j
    where j.job_type in ('scheduled_sync', 'token_refresh')
      and j.status in ('completed', 'partial', 'failed') and j.completed_at <= p_now
    order by j.job_type, j.completed_at desc, j.id
  ),
  accounts as (
    select a.id, a.username, w.name as workspace_name, a.sync_paused_at, a.sync_paused_reason,
      a.rate_limited_until, a.last_synced_at, t.id as token_id, t.expires_at, t.rejected_at,
      t.rejected_reason
    from public.workspace_threads_accounts a
    join public.workspaces w on w.id = a.workspace_id
    left join public.workspace_threads_tokens t
      on t.workspace_threads_account_id = a.id and t.is_primary and t.revoked_at is null
    where a.is_active
  ),
  settings as (
    select m.sync_freshness_target_minutes, m.alert_freshness_min_share from public.monitoring_settings m
  ),
  freshness as (
    select count(*) as active,
      count(*) filter (where a.last_synced_at > p_now - make_interval(mins => s.sync_freshness_target_minutes)) as fresh,
      min(a.last_synced_at) as oldest,
      min(s.sync_freshness_target_minutes) as target_minutes,
      min(s.alert_freshness_min_share) as min_share
    from accounts a cross join settings s
  ),
  -- One row per affected account and kind; `what` is the kind's wording for the folded row.
  account_rows (kind, account_id, hold, occurrence_key, what, summary, details) as (
    select 'account_paused', a.id, interval '0', a.sync_paused_at::text, 'are paused',
      format('Account @%s (%s) is paused: %s', a.username, a.workspace_name, a.sync_paused_reason),
      jsonb_build_object('account_id', a.id, 'username', a.username, 'workspace', a.workspace_name,
        'paused_at', a.sync_paused_at, 'reason', a.sync_paused_reason)
    from accounts a where a.sync_paused_at is not null
    union all
    select 'token_rejected', a.id, interval '0', a.token_id::text,
      'had their token rejected by the Threads API, reconnect them',
      format('Account @%s (%s): the Threads API rejected its token, reconnect it: %s', a.username,
        a.workspace_name, a.rejected_reason),
      jsonb_build_object('account_id', a.id, 'username', a.username, 'workspace', a.workspace_name,
        'rejected_at', a.rejected_at, 'reason', a.rejected_reason)
    from accounts a where a.rejected_at is not null
    union all
    -- rate_limited_until stays set until a complete success (or resume_account_sync) clears it.
    select 'account_rate_limited', a.id, interval '1 hour', null,
      'have been rate limited for over an hour',
      format('Account @%s (%s) has been rate limited for over an hour (deferred until %s)', a.username,
        a.workspace_name, a.rate_limited_until),
      jsonb_build_object('account_id', a.id, 'username', a.username, 'workspace', a.workspace_name,
        'rate_limited_until', a.rate_limited_until, 'last_complete_sync_at', a.last_synced_at)
    from accounts a where a.rate_limited_until is not null
    union all
    select 'token_expiring', a.id, interval '0', a.token_id::text,
      'have a token expiring within 7 days that has not been renewed',
      format('Account @%s (%s): its token expires %s and has not been renewed', a.username,
        a.workspace_name, a.expires_at),
      jsonb_build_object('account_id', a.id, 'username', a.username, 'workspace', a.workspace_name,
        'expires_at', a.expires_at)
    from accounts a
    where a.rejected_at is null and a.expires_at <= p_now + interval '7 days'
  ),
  -- An account with an open incident of its own keeps it; the others are folded when many.
  classified as (
    select r.*,
      exists (select from public.alert_incidents i where i.resolved_at is null
              and i.kind = r.kind and i.subject = r.account_id::text) as own_incident
    from account_rows r
  ),
  folded_kinds as (
    select c.kind from classified c where not c.own_incident group by c.kind having count(*) > 3
    union
    select i.kind from public.alert_incidents i where i.resolved_at is null and i.subject = 'accounts'
  )
  select 'run_failed', r.job_type, interval '0', interval '0', r.id::text,
    case when r.error_code = 'api_unavailable'
      then format('Circuit breaker opened: %s run %s failed: %s', r.job_type, r.id, r.error_message)
      else format('%s run %s failed: %s%s', r.job_type, r.id,
        coalesce(r.error_code || ': ', ''), coalesce(r.error_message, 'no error recorded'))
    end,
    jsonb_build_object('run_id', r.id, 'job_type', r.job_type, 'error_code', r.error_code,
      'error_message', r.error_message, 'completed_at', r.completed_at,
      'circuit_breaker', r.error_code = 'api_unavailable')
  from last_runs r where r.status = 'failed'
  union all
  select c.kind, c.account_id::text, c.hold, interval '0', c.occurrence_key, c.summary, c.details
  from classified c
  where c.own_incident or c.kind not in (select f.kind from folded_kinds f)
  union all
  -- The folded row: the first 20 accounts listed, all counted. A repeat is any change in the
  -- set of accounts (or a new pause or token among them).
  select c.kind, 'accounts', min(c.hold), interval '0',
    md5(string_agg(c.account_id::text || ':' || coalesce(c.occurrence_key, ''), ',' order by c.account_id)),
    format('%s accounts %s: %s%s', count(*), min(c.what),
      string_agg('@' || (c.details ->> 'username'), ', ' order by c.details ->> 'username')
        filter (where c.rank <= 5),
      case when count(*) > 5 then format(' and %s more', count(*) - 5) else '' end),
    jsonb_build_object('account_count', count(*),
      'accounts', jsonb_agg(c.details order by c.details ->> 'username') filter (where c.rank <= 20))
  from (select c.*, row_number() over (partition by c.kind order by c.details ->> 'username') as rank
        from classified c
        where not c.own_incident and c.kind in (select f.kind from folded_kinds f)) c
  group by c.kind
  union all
  -- Hysteresis: a freshness_low message waits 10 minutes of it (a dip shorter than that sends
  -- nothing), and the incident ends only after 5 minutes without it.
  select 'freshness_low', 'overall', interval '10 minutes', interval '5 minutes', null,
    format('Freshness %s%% is below %s%%: %s of %s active accounts synced completely within %s minutes',
      round(100 * f.fresh::numeric / f.active, 1), round(100 * f.min_share, 1), f.fresh, f.active,
      f.target_minutes),
    jsonb_build_object('fresh_accounts', f.fresh, 'active_accounts', f.active,
      'fresh_share', round(f.fresh::numeric / f.active, 4), 'min_share', f.min_share,
      'target_minutes', f.target_minutes, 'oldest_complete_sync_at', f.oldest)
  from freshness f
  where f.active > 0 and f.fresh::numeric / f.active < f.min_share;
$$;

comment on function public.alert_conditions(timestamptz) is
  'What is wrong now, one row per (kind, subject): run_failed, account_paused, token_rejected, account_rate_limited (1 hour), token_expiring (7 days), freshness_low (10 minutes, ends after 5 minutes above); more than 3 accounts of a kind fold into subject accounts. Console: select * from alert_conditions();';

/**
 * alert_message_body(p_incident, p_event, p_now) -> jsonb
 *
 * What the webhook receives: `text` (Slack's field) and the same line as `content` (Discord's
 * incoming webhooks refuse a body without it; each service ignores the other's field), plus
 * `alert`, the structured part for other receivers. Both lines stay under Discord's 2,000
 * characters. Every free text (summary, details) passes redact_alert_text. Quoted upstream text
 * must not ping anyone: `text` escapes &, < and > (Slack reads <!channel>, <@U…> as mentions),
 * and `allowed_mentions: {"parse": []}` tells Discord to ping nobody (@everyone stays text).
 */
create function public.alert_message_body(
  p_incident public.alert_incidents,
  p_event text,
  p_now timestamptz default now()
) returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'text', replace(replace(replace(t.line, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'),
    'content', t.line,
    'allowed_mentions', jsonb_build_object('parse', '[]'::jsonb),
    'alert', jsonb_build_object(
      'event', p_event,
      'incident_id', p_incident.id,
      'kind', p_incident.kind,
      'subject', p_incident.subject,
      'summary', t.summary,
      'opened_at', p_incident.opened_at,
      'resolved_at', p_incident.resolved_at,
      'occurrences', p_incident.occurrences,
      -- Redacted as JSON text: a match never spans a quote or backslash (still valid JSON).
      'details', public.redact_alert_text(p_incident.details::text)::jsonb,
      'sent_at', p_now))
  from (select public.redact_alert_text(p_incident.summary) as summary) s,
  lateral (select s.summary, left(case p_event
      when 'resolved' then format('[RESOLVED] Threads Sync: %s is over after %s (%s occurrence%s): %s',
        replace(p_incident.kind, '_', ' '),
        date_trunc('second', p_incident.resolved_at - p_incident.opened_at), p_incident.occurrences,
        case when p_incident.occurrences = 1 then '' else 's' end, s.summary)
      else format('[ALERT] Threads Sync: %s', s.summary)
    end, 1900) as line) t;
$$;

comment on function public.alert_message_body(public.alert_incidents, text, timestamptz) is
  'The JSON body of an alert message: text (Slack, &<> escaped) and content (Discord, allowed_mentions none) plus the structured alert part; free text redacted (redact_alert_text).';

/**
 * evaluate_alerts(p_now) -> jsonb {"opened", "repeated", "resolved", "messages"}
 *
 * Brings alert_incidents in line with alert_conditions(p_now): a new condition opens an
 * incident; one still present updates it (a new occurrence key counts a repeat); an incident
 * whose condition is gone (for its clear_after) is resolved. Queues the 'opened' message once the hold is over and a
 * 'resolved' message for every incident whose opening message was queued (and not dropped for
 * want of a URL). Serialised by an advisory lock, so two ticks never open one incident twice.
 * Who: alert_tick (postgres). Security invoker.
 */
create function public.evaluate_alerts(p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  conditions jsonb;
  n_opened integer;
  n_repeated integer;
  n_resolved integer;
  n_messages integer;
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('public.alert_tick'));
  -- One reading of the conditions for every statement below.
  select coalesce(jsonb_agg(c), '[]'::jsonb) into conditions from public.alert_conditions(p_now) c;

  with still as (
    select i.id, c.details, c.occurrence_key,
      c.occurrence_key is distinct from i.last_occurrence_key as repeat
    from jsonb_to_recordset(conditions) as c(kind text, subject text, occurrence_key text, details jsonb)
    join public.alert_incidents i on i.kind = c.kind and i.subject = c.subject and i.resolved_at is null
  ),
  updated as (
    update public.alert_incidents i
    set last_seen_at = p_now,
        details = st.details,
        occurrences = i.occurrences + case when st.repeat then 1 else 0 end,
        last_occurrence_key = st.occurrence_key
    from still st
    where i.id = st.id
    returning st.repeat
  )
  select (count(*) filter (where u.repeat))::integer into n_repeated from updated u;

  insert into public.alert_incidents (kind, subject, summary, details, opened_at, last_seen_at,
    notify_after, clear_after, last_occurrence_key)
  select c.kind, c.subject, c.summary, c.details, p_now, p_now, p_now + c.hold, c.clear_after,
    c.occurrence_key
  from jsonb_to_recordset(conditions) as c(kind text, subject text, hold interval,
    clear_after interval, occurrence_key text, summary text, details jsonb)
  where not exists (select from public.alert_incidents i
                    where i.resolved_at is null and i.kind = c.kind and i.subject = c.subject)
  order by c.kind, c.subject;
  get diagnostics n_opened = row_count;

  with resolved as (
    update public.alert_incidents i
    set resolved_at = p_now
    where i.resolved_at is null
      and not exists (select from jsonb_to_recordset(conditions) as c(kind text, subject text)
                      where c.kind = i.kind and c.subject = i.subject)
      -- Hysteresis: gone for clear_after (the first tick when 0).
      and (i.clear_after = interval '0' or i.last_seen_at <= p_now - i.clear_after)
    returning i.*
  ),
  queued as (
    insert into public.alert_messages (incident_id, event, body, created_at)
    select r.id, 'resolved', public.alert_message_body(row(r.*)::public.alert_incidents, 'resolved', p_now), p_now
    from resolved r
    where r.notified_at is not null
      and not exists (select from public.alert_messages m
                      where m.incident_id = r.id and m.event = 'opened' and m.dropped_reason = 'no_url')
    order by r.id
    returning 1
  )
  select (select count(*) from resolved)::integer, (select count(*) from queued)::integer
    into n_resolved, n_messages;

  with due as (
    update public.alert_incidents i
    set notified_at = p_now
    where i.resolved_at is null and i.notified_at is null and i.notify_after <= p_now
    returning i.*
  ),
  queued as (
    insert into public.alert_messages (incident_id, event, body, created_at)
    select d.id, 'opened', public.alert_message_body(row(d.*)::public.alert_incidents, 'opened', p_now), p_now
    from due d order by d.id
    returning 1
  )
  select n_messages + count(*)::integer into n_messages from queued;

  return jsonb_build_object('opened', n_opened, 'repeated', n_repeated, 'resolved', n_resolved,
    'messages', n_messages);
end;
$$;

comment on function public.evaluate_alerts(timestamptz) is
  'Opens, counts repeats of and resolves alert_incidents from alert_conditions(); queues opened/resolved messages.';

/**
 * alert_delivery_error(status_code, timed_out, error_msg, content) -> text
 *
 * What went wrong with one pg_net answer of a webhook post, in words: its error or "timed out",
 * "request failed" without a status, else the status and the start of the body. NULL for a
 * 2xx. One rule for send_alert_messages (which records it) and alert_deliveries (which shows
 * an answer not recorded yet). Who: postgres.
 */
create function public.alert_delivery_error(p_status_code integer, p_timed_out boolean,
  p_error_msg text, p_content text)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when p_status_code between 200 and 299 then null
    when p_timed_out then coalesce(p_error_msg, 'timed out')
    when p_status_code is null then coalesce(p_error_msg, 'request failed')
    else format('HTTP %s: %s', p_status_code, left(coalesce(p_content, ''), 200))
  end;
$$;

comment on function public.alert_delivery_error(integer, boolean, text, text) is
  'One pg_net answer of an alert post as an error text (NULL for 2xx); used by send_alert_messages and alert_deliveries.';

/**
 * send_alert_messages(p_now) -> jsonb {"delivered", "failed", "dropped", "sent"}
 *
 * The outbox worker, one pass per tick:
 *  1. reads the outcome of every request in flight from net._http_response: a 2xx delivers
 *     the message; any other status, a timeout or an error records it (last_status_code,
 *     last_error) and makes the message due again; no response 10 minutes after sending counts
 *     as an error too (pg_net keeps responses for 6 hours, so none is lost in between);
 *  2. drops what can no longer be sent: everything pending when no URL is configured
 *     ('no_url': alerts are off), and messages undelivered after 24 hours ('expired');
 *  3. sends the due messages (oldest first, at most 20 a tick, Slack takes about one a second)
 *     through net.http_post, which sends after this transaction commits.
 * Reads the Vault secret `alert_webhook_url`, so only postgres can run it (pg_cron's
 * alert_tick, send_test_alert); security invoker like every function here but
 * trigger_edge_function.
 */
create function public.send_alert_messages(p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  -- pg_net's default; a webhook answers in well under a second.
  request_timeout_ms constant integer := 5000;
  max_per_tick constant integer := 20;
  give_up_after constant interval := interval '24 hours';
  lost_after constant interval := interval '10 minutes';
  webhook_url text;
  n_delivered integer;
  n_failed integer;
  n_dropped integer;
  n_sent integer := 0;
  message record;
begin
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('public.alert_tick'));
  select nullif(btrim(s.decrypted_secret), '') into webhook_url
  from vault.decrypted_secrets s where s.name = 'alert_webhook_url';

  -- 1. Outcomes of the requests in flight.
  with outcome as (
    select m.id, r.status_code, r.timed_out, r.error_msg, r.content, r.created,
      r.id is not null as answered
    from public.alert_messages m
    left join net._http_response r on r.id = m.request_id
    where m.request_id is not null and m.delivered_at is null and m.dropped_at is null
  ),
  delivered as (
    update public.alert_messages m
    set delivered_at = o.created, last_status_code = o.status_code, last_error = null
    from outcome o
    where m.id = o.id and o.answered and o.status_code between 200 and 299
    returning 1
  ),
  failed as (
    update public.alert_messages m
    set request_id = null,
        last_status_code = o.status_code,
        last_error = case
          when not o.answered then 'no response recorded by pg_net within 10 minutes'
          else public.alert_delivery_error(o.status_code, o.timed_out, o.error_msg, o.content)
        end
    from outcome o
    where m.id = o.id
      and ((o.answered and (o.status_code is null or o.status_code not between 200 and 299))
        or (not o.answered and m.last_attempt_at < p_now - lost_after))
    returning 1
  )
  select (select count(*) from delivered)::integer, (select count(*) from failed)::integer
    into n_delivered, n_failed;

  -- 2. What can no longer be sent.
  update public.alert_messages m
  set dropped_at = p_now,
      dropped_reason = case when m.created_at < p_now - give_up_after then 'expired' else 'no_url' end
  where m.delivered_at is null and m.dropped_at is null and m.request_id is null
    and (m.created_at < p_now - give_up_after or webhook_url is null);
  get diagnostics n_dropped = row_count;

  if webhook_url is null then
    return jsonb_build_object('delivered', n_delivered, 'failed', n_failed, 'dropped', n_dropped, 'sent', 0);
  end if;

  -- 3. Send what is due.
  for message in
    select m.id, m.body from public.alert_messages m
    where m.delivered_at is null and m.dropped_at is null and m.request_id is null
    order by m.id
    limit max_per_tick
    for update skip locked
  loop
    if webhook_url !~* '^https?://[^/\s]+' then
      update public.alert_messages m
      set last_error = 'the Vault secret alert_webhook_url is not an http(s) URL', last_attempt_at = p_now
      where m.id = message.id;
      continue;
    end if;
    update public.alert_messages m
    set request_id = net.http_post(
          url := webhook_url,
          body := message.body,
          headers := jsonb_build_object('Content-Type', 'application/json'),
          timeout_milliseconds := request_timeout_ms),
        attempts = m.attempts + 1,
        last_attempt_at = p_now
    where m.id = message.id;
    n_sent := n_sent + 1;
  end loop;

  return jsonb_build_object('delivered', n_delivered, 'failed', n_failed, 'dropped', n_dropped, 'sent', n_sent);
end;
$$;

comment on function public.send_alert_messages(timestamptz) is
  'Alert outbox pass: records pg_net outcomes (2xx delivered, else failed and due again), drops (no_url, expired after 24 h), sends due messages to Vault alert_webhook_url.';

/**
 * alert_tick(p_now) -> jsonb {"evaluation": {...}, "delivery": {...}}
 *
 * One tick of alerting: evaluate_alerts, then send_alert_messages. pg_cron job 'alert-tick'
 * runs it every minute; an operator may run it by hand. Who: postgres.
 */
create function public.alert_tick(p_now timestamptz default now())
returns jsonb
language sql
volatile
set search_path = ''
as $$
  select jsonb_build_object('evaluation', public.evaluate_alerts(p_now),
    'delivery', public.send_alert_messages(p_now));
$$;

comment on function public.alert_tick(timestamptz) is
  'One alerting tick (pg_cron job alert-tick, every minute): evaluate_alerts then send_alert_messages.';

/**
 * send_test_alert(p_now) -> bigint (the message id)
 *
 * Queues a 'test' message and sends it at once through the same outbox (npm run alert --
 * --test); its delivery shows in alert_deliveries like any other.
 * Raises: TS250 when the Vault secret alert_webhook_url is missing or empty.
 * Who: operators (postgres: it reads Vault). Security invoker.
 */
create function public.send_test_alert(p_now timestamptz default now())
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  message_id bigint;
  line constant text := '[TEST] Threads Sync: alerts reach this channel. Nothing is wrong.';
begin
  if not exists (select from vault.decrypted_secrets s
                 where s.name = 'alert_webhook_url' and btrim(coalesce(s.decrypted_secret, '')) <> '') then
    raise exception using errcode = 'TS250',
      message = 'Cannot send a test alert as the Vault secret "alert_webhook_url" is missing',
      hint = 'Create it with: select vault.create_secret(''<your Slack or Discord incoming webhook URL>'', ''alert_webhook_url'');';
  end if;
  insert into public.alert_messages (event, body, created_at)
  values ('test', jsonb_build_object('text', line, 'content', line,
    'alert', jsonb_build_object('event', 'test', 'sent_at', p_now)), p_now)
  returning id into message_id;
  perform public.send_alert_messages(p_now);
  return message_id;
end;
$$;

comment on function public.send_test_alert(timestamptz) is
  'Queues and sends a test alert message (npm run alert -- --test); returns its id. Raises TS250 without the Vault secret alert_webhook_url.';

/**
 * alert_deliveries: every alert message with its delivery state, newest first:
 *   delivered  a 2xx answer
 *   sending    sent, no answer yet
 *   failed     the last attempt failed (status or error shown): sent again at the next tick
 *   queued     not sent yet
 *   dropped    not sent and never will be: no_url (alerts off) or expired (24 hours)
 * The state of a request in flight is read live from net._http_response, so a failure shows
 * before the next tick retries it.
 */
create view public.alert_deliveries
with (security_invoker = true)
as
select
  m.id as message_id,
  m.event,
  i.kind,
  i.subject,
  m.incident_id,
  case
    when m.delivered_at is not null or r.status_code between 200 and 299 then 'delivered'
    when m.dropped_at is not null then 'dropped'
    when m.request_id is not null and r.id is null then 'sending'
    when r.id is not null or m.last_error is not null then 'failed'
    else 'queued'
  end as state,
  m.attempts,
  m.created_at,
  m.last_attempt_at,
  coalesce(m.delivered_at, case when r.status_code between 200 and 299 then r.created end) as delivered_at,
  coalesce(r.status_code, m.last_status_code) as last_status_code,
  case
    when r.id is not null then public.alert_delivery_error(r.status_code, r.timed_out, r.error_msg, r.content)
    else m.last_error
  end as last_error,
  m.dropped_reason,
  m.body ->> 'text' as text
from public.alert_messages m
left join public.alert_incidents i on i.id = m.incident_id
left join net._http_response r on r.id = m.request_id and m.delivered_at is null
order by m.id desc;

comment on view public.alert_deliveries is
  'Alert messages, newest first, with state delivered | sending | failed (retried next tick) | queued | dropped, attempts, last status and error. Failures: select * from alert_deliveries where state = ''failed'';';

revoke all on public.alert_deliveries from anon, authenticated;

revoke all on function public.redact_alert_text(text) from public, anon, authenticated, service_role;
revoke all on function public.alert_conditions(timestamptz) from public, anon, authenticated, service_role;
revoke all on function public.alert_message_body(public.alert_incidents, text, timestamptz) from public, anon, authenticated, service_role;
revoke all on function public.evaluate_alerts(timestamptz) from public, anon, authenticated, service_role;
revoke all on function public.alert_delivery_error(integer, boolean, text, text) from public, anon, authenticated, service_role;
revoke all on function public.send_alert_messages(timestamptz) from public, anon, authenticated, service_role;
revoke all on function public.alert_tick(timestamptz) from public, anon, authenticated, service_role;
revoke all on function public.send_test_alert(timestamptz) from public, anon, authenticated, service_role;

-- Every minute: an incident is told within a minute of the database knowing it.
select cron.schedule('alert-tick', '* * * * *', $$select public.alert_tick()$$);

/**
 * run_housekeeping(p_now) -> jsonb  (replaces 20261123001800's, adding the alert tables)
 *
 * As before: closes stale runs, deletes cron.job_run_details older than 14 days and finished
 * runs (system_job_logs with their sync_logs and sync_run_accounts) older than 90 days. Now also
 * deletes alert incidents resolved more than 30 days before p_now (their messages with them)
 * and delivered or dropped alert messages created more than 30 days before (test messages,
 * those of an incident still open). Open incidents and messages still to send are kept.
 *
 * Returns {"stale_runs_closed", "cron_job_run_details", "system_job_logs", "sync_logs",
 *          "sync_run_accounts", "alert_incidents", "alert_messages"}.
 *
 * Who: pg_cron (job 'housekeeping', daily at 03:17 UTC) and operators, as postgres.
 */
create or replace function public.run_housekeeping(p_now timestamptz default now())
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  cron_retention constant interval := interval '14 days';
  log_retention constant interval := interval '90 days';
  -- An incident is worth looking back at for a month; the runs (90 days) keep the detail.
  alert_retention constant interval := interval '30 days';
  stale_closed integer;
  cron_deleted integer;
  result jsonb;
begin
  stale_closed := public.close_stale_job_logs(p_now => p_now);

  delete from cron.job_run_details d
  where coalesce(d.end_time, d.start_time) < p_now - cron_retention;
  get diagnostics cron_deleted = row_count;

  with old_runs as (
    select j.id from public.system_job_logs j
    where j.status <> 'running' and j.completed_at < p_now - log_retention
  ),
  -- Deleted explicitly (not left to the cascade) so each count is reported.
  deleted_steps as (
    delete from public.sync_logs s using old_runs o where s.run_id = o.id returning 1
  ),
  deleted_progress as (
    delete from public.sync_run_accounts ra using old_runs o where ra.run_id = o.id returning 1
  ),
  deleted_runs as (
    delete from public.system_job_logs j using old_runs o where j.id = o.id returning 1
  ),
  old_incidents as (
    select i.id from public.alert_incidents i where i.resolved_at < p_now - alert_retention
  ),
  deleted_messages as (
    delete from public.alert_messages m
    where m.incident_id in (select o.id from old_incidents o)
       or (m.created_at < p_now - alert_retention
           and (m.delivered_at is not null or m.dropped_at is not null))
    returning 1
  ),
  deleted_incidents as (
    delete from public.alert_incidents i using old_incidents o where i.id = o.id returning 1
  )
  select jsonb_build_object(
    'stale_runs_closed', stale_closed,
    'cron_job_run_details', cron_deleted,
    'system_job_logs', (select count(*) from deleted_runs),
    'sync_logs', (select count(*) from deleted_steps),
    'sync_run_accounts', (select count(*) from deleted_progress),
    'alert_incidents', (select count(*) from deleted_incidents),
    'alert_messages', (select count(*) from deleted_messages))
  into result;

  -- Its own run record, so the console shows when housekeeping last ran and what it did.
  -- pg_cron's job runs in a backend of type 'pg_cron' (background-worker mode) or over a
  -- connection named 'pg_cron'.
  insert into public.system_job_logs (job_type, trigger, status, started_at, completed_at, metadata)
  select 'housekeeping',
    case when a.backend_type = 'pg_cron' or a.application_name = 'pg_cron' then 'cron' else 'manual' end,
    'completed', p_now, p_now + (clock_timestamp() - now()), result
  from pg_catalog.pg_stat_activity a
  where a.pid = pg_catalog.pg_backend_pid();

  return result;
end;
$$;

comment on function public.run_housekeeping(timestamptz) is
  'Daily (pg_cron job housekeeping): closes stale runs, trims cron.job_run_details (14 days), finished runs with their sync_logs/sync_run_accounts (90 days), resolved alert incidents and delivered/dropped alert messages (30 days); returns the counts.';
