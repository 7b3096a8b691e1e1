-- Alerts: incidents opened, counted and resolved from the conditions; one message per incident
-- and one when it is over; deliveries read back from pg_net's responses and retried.
begin;
select plan(43);
set local client_min_messages = warning;

-- A clean slate inside this transaction (rolled back at the end).
delete from public.alert_incidents;
delete from public.alert_messages;
update public.workspace_threads_accounts set is_active = false, deactivated_at = now() where is_active;
delete from vault.secrets where name = 'alert_webhook_url';
select vault.create_secret('http://127.0.0.1:9/hook', 'alert_webhook_url');

insert into public.workspaces (id, name) values ('11111111-1111-1111-1111-111111111111', 'Acme');
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username, last_synced_at) values
  ('aaaaaaaa-0000-0000-0000-000000000001', '11111111-1111-1111-1111-111111111111', '1001', 'alice', now() - interval '5 minutes'),
  ('aaaaaaaa-0000-0000-0000-000000000002', '11111111-1111-1111-1111-111111111111', '1002', 'bob', now() - interval '5 minutes');
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
select a.id, 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now() + interval '30 days', true
from public.workspace_threads_accounts a where a.workspace_id = '11111111-1111-1111-1111-111111111111';

create function pg_temp.finished_run(p_id uuid, p_status text, p_code text, p_message text, p_at timestamptz)
returns void language sql as $$
  insert into public.system_job_logs (id, job_type, trigger, status, started_at, completed_at, error_code, error_message, metadata)
  values (p_id, 'scheduled_sync', 'cron', p_status, p_at - interval '1 minute', p_at, p_code, p_message,
    '{"total_accounts": 2, "success_count": 0, "error_count": 2, "skipped_count": 0}');
$$;

select is(
  (select schedule from cron.job where jobname = 'alert-tick'), '* * * * *',
  'pg_cron job alert-tick runs every minute');
select results_eq(
  $$ select public.alert_tick() -> 'evaluation' $$,
  $$ values ('{"opened": 0, "repeated": 0, "resolved": 0, "messages": 0}'::jsonb) $$,
  'nothing wrong: no incident, no message');

-- A run ends failed ---------------------------------------------------------------------------
select pg_temp.finished_run('eeeeeeee-0000-0000-0000-000000000001', 'failed', 'internal_error',
  'every account failed', now() - interval '20 minutes');
select public.alert_tick();
select results_eq(
  $$ select kind, subject, occurrences, resolved_at is null from public.alert_incidents $$,
  $$ values ('run_failed'::text, 'scheduled_sync'::text, 1, true) $$,
  'a failed scheduled run opens one run_failed incident');
select results_eq(
  $$ select event, body ->> 'text', body ->> 'content' = body ->> 'text', body -> 'alert' ->> 'kind',
       body -> 'alert' -> 'details' ->> 'run_id'
     from public.alert_messages $$,
  $$ values ('opened'::text,
     '[ALERT] Threads Sync: scheduled_sync run eeeeeeee-0000-0000-0000-000000000001 failed: internal_error: every account failed',
     true, 'run_failed', 'eeeeeeee-0000-0000-0000-000000000001') $$,
  'one opened message: text (and content) with the run id and the reason, plus the structured part');
select ok(
  (select request_id is not null and attempts = 1 from public.alert_messages),
  'the message was handed to pg_net (sent at commit)');
select ok(
  (select count(*) = 1 from net.http_request_queue q
   where q.url = 'http://127.0.0.1:9/hook' and convert_from(q.body, 'UTF8')::jsonb ->> 'text' like '[ALERT]%'),
  'queued to the Vault alert_webhook_url as JSON');

-- The same outage: another failed run, and more ticks
select pg_temp.finished_run('eeeeeeee-0000-0000-0000-000000000002', 'failed', 'api_unavailable',
  'Stopped calling the Threads API after 5 account(s) in a row', now() - interval '5 minutes');
select public.alert_tick();
select public.alert_tick();
select results_eq(
  $$ select count(*), max(occurrences) from public.alert_incidents $$,
  $$ values (1::bigint, 2) $$,
  'a second failed run is a repeat of the open incident (counted once however many ticks)');
select is((select count(*) from public.alert_messages), 1::bigint, 'repeats send nothing');

-- Recovery
select pg_temp.finished_run('eeeeeeee-0000-0000-0000-000000000003', 'completed', null, null, now() - interval '1 minute');
select public.alert_tick();
select ok((select resolved_at = now() from public.alert_incidents), 'a completed run resolves the incident');
select results_eq(
  $$ select event, body ->> 'text' from public.alert_messages where event = 'resolved' $$,
  $$ values ('resolved'::text, '[RESOLVED] Threads Sync: run failed is over after 00:00:00 (2 occurrences): scheduled_sync run eeeeeeee-0000-0000-0000-000000000001 failed: internal_error: every account failed') $$,
  'one resolved message, with the occurrences');

-- The circuit breaker names itself
select pg_temp.finished_run('eeeeeeee-0000-0000-0000-000000000004', 'failed', 'api_unavailable',
  'Stopped calling the Threads API after 5 account(s) in a row', now());
select public.evaluate_alerts();
select is(
  (select summary from public.alert_incidents where resolved_at is null and kind = 'run_failed'),
  'Circuit breaker opened: scheduled_sync run eeeeeeee-0000-0000-0000-000000000004 failed: Stopped calling the Threads API after 5 account(s) in a row',
  'a failed run that opened the circuit breaker says so, with its run id and reason');
select is(
  (select (details ->> 'circuit_breaker')::boolean from public.alert_incidents where resolved_at is null and kind = 'run_failed'),
  true, 'the structured part flags the circuit breaker');
delete from public.system_job_logs where id = 'eeeeeeee-0000-0000-0000-000000000004';
select public.evaluate_alerts();

-- Accounts ----------------------------------------------------------------------------------------
update public.workspace_threads_accounts set sync_paused_at = now(),
  sync_paused_reason = 'Paused after 10 failed syncs in a row; last: permission: not allowed'
where username = 'alice';
update public.workspace_threads_tokens set rejected_at = now(), rejected_reason = 'Graph code 190: session invalidated'
where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000002';
select public.evaluate_alerts();
select results_eq(
  $$ select kind, subject, summary from public.alert_incidents where resolved_at is null order by kind $$,
  $$ values ('account_paused'::text, 'aaaaaaaa-0000-0000-0000-000000000001'::text,
             'Account @alice (Acme) is paused: Paused after 10 failed syncs in a row; last: permission: not allowed'::text),
            ('token_rejected', 'aaaaaaaa-0000-0000-0000-000000000002',
             'Account @bob (Acme): the Threads API rejected its token, reconnect it: Graph code 190: session invalidated') $$,
  'a paused account and a rejected token each open an incident');
select is(
  (select count(*) from public.alert_messages m join public.alert_incidents i on i.id = m.incident_id
   where i.kind in ('account_paused', 'token_rejected') and m.event = 'opened'),
  2::bigint, 'and each sends one message');
select public.resume_account_sync('aaaaaaaa-0000-0000-0000-000000000001');
select public.evaluate_alerts();
select ok(
  (select resolved_at is not null from public.alert_incidents where kind = 'account_paused'),
  'resuming the account resolves its incident');
update public.workspace_threads_tokens set rejected_at = null, rejected_reason = null
where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000002';

-- Rate limited for over an hour: nothing at first, a message once the hour is over (ticks an
-- hour ahead, with the freshness alert out of the way).
update public.monitoring_settings set alert_freshness_min_share = 0;
update public.workspace_threads_accounts set rate_limited_until = now() + interval '3 hours' where username = 'bob';
select public.evaluate_alerts();
select is(
  (select count(*) from public.alert_messages m join public.alert_incidents i on i.id = m.incident_id
   where i.kind = 'account_rate_limited'),
  0::bigint, 'a rate-limited account sends nothing during its first hour');
select public.evaluate_alerts(now() + interval '61 minutes');
select is(
  (select count(*) from public.alert_messages m join public.alert_incidents i on i.id = m.incident_id
   where i.kind = 'account_rate_limited' and m.event = 'opened'),
  1::bigint, 'rate limited past an hour: one message');
update public.workspace_threads_accounts set rate_limited_until = null where username = 'bob';
select public.evaluate_alerts(now() + interval '62 minutes');
select is(
  (select count(*) from public.alert_messages m join public.alert_incidents i on i.id = m.incident_id
   where i.kind = 'account_rate_limited' and m.event = 'resolved'),
  1::bigint, 'a complete sync (the deferral cleared) resolves it');

-- A deferral that ends within the hour sends nothing at all.
update public.workspace_threads_accounts set rate_limited_until = now() + interval '20 minutes' where username = 'alice';
select public.evaluate_alerts(now() + interval '63 minutes');
update public.workspace_threads_accounts set rate_limited_until = null where username = 'alice';
select public.evaluate_alerts(now() + interval '64 minutes');
select is(
  (select count(*) from public.alert_messages m join public.alert_incidents i on i.id = m.incident_id
   where i.kind = 'account_rate_limited' and i.subject = 'aaaaaaaa-0000-0000-0000-000000000001'),
  0::bigint, 'rate limited for less than an hour: no message, not even a resolved one');

update public.monitoring_settings set alert_freshness_min_share = 0.95;

-- Token expiring within 7 days and not renewed; renewed resolves it.
update public.workspace_threads_tokens set expires_at = now() + interval '6 days'
where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001';
select public.evaluate_alerts();
select is(
  (select count(*) from public.alert_incidents where kind = 'token_expiring' and resolved_at is null
     and subject = 'aaaaaaaa-0000-0000-0000-000000000001'),
  1::bigint, 'a token expiring within 7 days opens an incident');
update public.workspace_threads_tokens set expires_at = now() + interval '60 days'
where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000001';
select public.evaluate_alerts();
select is(
  (select count(*) from public.alert_incidents where kind = 'token_expiring' and resolved_at is null),
  0::bigint, 'renewed by refresh: resolved');

-- Freshness below the threshold, and recovery ----------------------------------------------------
update public.workspace_threads_accounts set last_synced_at = now() - interval '45 minutes' where username = 'bob';
select public.evaluate_alerts();
select is(
  (select summary from public.alert_incidents where kind = 'freshness_low' and resolved_at is null),
  'Freshness 50.0% is below 95.0%: 1 of 2 active accounts synced completely within 30 minutes',
  'half the accounts stale: freshness_low with the figures');
create function pg_temp.freshness_messages(p_event text) returns bigint language sql as $$
  select count(*) from public.alert_messages m join public.alert_incidents i on i.id = m.incident_id
  where i.kind = 'freshness_low' and m.event = p_event;
$$;
select is(pg_temp.freshness_messages('opened'), 0::bigint, 'below the threshold: no message during the first 10 minutes');
-- Hovering at the threshold: back above (0.5 here) at +3 minutes, below again at +4.
update public.monitoring_settings set alert_freshness_min_share = 0.5;
select public.evaluate_alerts(now() + interval '3 minutes');
update public.monitoring_settings set alert_freshness_min_share = 0.95;
select public.evaluate_alerts(now() + interval '4 minutes');
select results_eq(
  $$ select count(*), count(*) filter (where resolved_at is null) from public.alert_incidents where kind = 'freshness_low' $$,
  $$ values (1::bigint, 1::bigint) $$,
  'back above the threshold for less than 5 minutes: the same incident goes on (no open/resolve every minute)');
select public.evaluate_alerts(now() + interval '10 minutes');
select is(pg_temp.freshness_messages('opened'), 1::bigint, 'after 10 minutes: one message');
update public.monitoring_settings set alert_freshness_min_share = 0.5;
select public.evaluate_alerts(now() + interval '11 minutes');
select public.evaluate_alerts(now() + interval '14 minutes');
select is(pg_temp.freshness_messages('resolved'), 0::bigint,
  'recovered for less than 5 minutes: still open, nothing sent');
select public.evaluate_alerts(now() + interval '16 minutes');
select is(pg_temp.freshness_messages('resolved'), 1::bigint,
  'at or above the threshold for 5 minutes: one resolved message');

-- Deliveries: pg_net's answer decides --------------------------------------------------------------
delete from public.alert_messages;
update public.workspace_threads_accounts set sync_paused_at = now(), sync_paused_reason = 'Paused: test'
where username = 'bob';
select public.alert_tick();
insert into net._http_response (id, status_code, content)
select request_id, 500, 'upstream broke' from public.alert_messages;
select results_eq(
  $$ select state, attempts, last_status_code, last_error from public.alert_deliveries $$,
  $$ values ('failed'::text, 1, 500, 'HTTP 500: upstream broke'::text) $$,
  'a 500 answer shows as a failed delivery with its status, before any retry');
select public.alert_tick();
select results_eq(
  $$ select state, attempts, last_status_code from public.alert_deliveries $$,
  $$ values ('sending'::text, 2, 500) $$,
  'the next tick sends it again');
insert into net._http_response (id, status_code, content)
select request_id, 200, 'ok' from public.alert_messages;
select public.alert_tick();
select results_eq(
  $$ select state, attempts, last_status_code, delivered_at is not null from public.alert_deliveries $$,
  $$ values ('delivered'::text, 2, 200, true) $$,
  'a 2xx answer delivers it');

-- Without a URL: incidents are still tracked, messages dropped (alerts off), no resolved later.
delete from vault.secrets where name = 'alert_webhook_url';
update public.workspace_threads_accounts set sync_paused_at = now(), sync_paused_reason = 'Paused: test'
where username = 'alice';
select public.alert_tick();
select results_eq(
  $$ select state, dropped_reason from public.alert_deliveries where subject = 'aaaaaaaa-0000-0000-0000-000000000001' $$,
  $$ values ('dropped'::text, 'no_url'::text) $$,
  'no alert_webhook_url: the message is dropped (no_url), visibly');
select vault.create_secret('http://127.0.0.1:9/hook', 'alert_webhook_url');
select public.resume_account_sync('aaaaaaaa-0000-0000-0000-000000000001');
select public.alert_tick();
select is(
  (select count(*) from public.alert_deliveries where subject = 'aaaaaaaa-0000-0000-0000-000000000001' and event = 'resolved'),
  0::bigint, 'an incident nobody was told about ends without a resolved message');

-- A systemic problem: one incident, not one per account -----------------------------------------
update public.monitoring_settings set alert_freshness_min_share = 0;
insert into public.workspace_threads_accounts (id, workspace_id, threads_user_id, username) values
  ('aaaaaaaa-0000-0000-0000-000000000003', '11111111-1111-1111-1111-111111111111', '1003', 'carol'),
  ('aaaaaaaa-0000-0000-0000-000000000004', '11111111-1111-1111-1111-111111111111', '1004', 'dan'),
  ('aaaaaaaa-0000-0000-0000-000000000005', '11111111-1111-1111-1111-111111111111', '1005', 'erin'),
  ('aaaaaaaa-0000-0000-0000-000000000006', '11111111-1111-1111-1111-111111111111', '1006', 'frank'),
  ('aaaaaaaa-0000-0000-0000-000000000007', '11111111-1111-1111-1111-111111111111', '1007', 'george');
insert into public.workspace_threads_tokens (workspace_threads_account_id, access_token_encrypted, expires_at, is_primary)
select a.id, 'v1.AAAAAAAAAAAAAAAA.BBBBBBBBBBBBBBBBBBBBBBBB', now() + interval '30 days', true
from public.workspace_threads_accounts a where a.username in ('carol', 'dan', 'erin', 'frank', 'george');
create function pg_temp.rejected_messages() returns table (subject text, event text, body jsonb) language sql as $$
  select i.subject, m.event, m.body from public.alert_messages m join public.alert_incidents i on i.id = m.incident_id
  where i.kind = 'token_rejected' and i.opened_at >= now() order by m.id;
$$;
-- bob's token first (an incident of his own), then an app-wide revocation: 5 more accounts.
update public.workspace_threads_tokens set rejected_at = now(), rejected_reason = 'Graph code 190: session invalidated'
where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000002';
select public.alert_tick();
update public.workspace_threads_tokens t set rejected_at = now(),
  rejected_reason = 'Graph code 190: Bearer EAAGsecret1 access_token=EAAGsecret2&x=1 <!channel> @everyone'
from public.workspace_threads_accounts a
where a.id = t.workspace_threads_account_id and a.username in ('alice', 'carol', 'dan', 'erin', 'frank');
select public.alert_tick();
select public.alert_tick();
select results_eq(
  $$ select subject, occurrences, (details ->> 'account_count')::int from public.alert_incidents
     where kind = 'token_rejected' and resolved_at is null order by subject $$,
  $$ values ('aaaaaaaa-0000-0000-0000-000000000002'::text, 1, null::int), ('accounts', 1, 5) $$,
  'more than 3 accounts at once: one incident (subject accounts) with the count; bob''s own incident stays as it was');
select results_eq(
  $$ select subject, event, body ->> 'text' from pg_temp.rejected_messages() $$,
  $$ values ('aaaaaaaa-0000-0000-0000-000000000002'::text, 'opened'::text,
       '[ALERT] Threads Sync: Account @bob (Acme): the Threads API rejected its token, reconnect it: Graph code 190: session invalidated'::text),
     ('accounts', 'opened',
       '[ALERT] Threads Sync: 5 accounts had their token rejected by the Threads API, reconnect them: @alice, @carol, @dan, @erin, @frank') $$,
  'one message for the 5 accounts, not 5');
select is(
  (select jsonb_agg(a ->> 'username') from pg_temp.rejected_messages() m,
     jsonb_array_elements(m.body -> 'alert' -> 'details' -> 'accounts') a where m.subject = 'accounts'),
  '["alice", "carol", "dan", "erin", "frank"]'::jsonb, 'its details list the accounts');
select is(
  (select body -> 'alert' -> 'details' -> 'accounts' -> 0 ->> 'reason' from pg_temp.rejected_messages() where subject = 'accounts'),
  'Graph code 190: Bearer [redacted] access_token=[redacted]&x=1 <!channel> @everyone',
  'a token quoted in stored text is redacted in the body (Bearer ..., access_token=...)');
select is((select count(*) from public.alert_messages where body::text like '%EAAGsecret%'), 0::bigint,
  'no message body carries the token');
select is(
  public.alert_message_body(row(i.*)::public.alert_incidents, 'opened') -> 'alert' -> 'details' ->> 'reason',
  'a "quoted" access_token=[redacted]"\ and Bearer [redacted]" stay JSON',
  'redacting inside the JSON text of the details keeps it valid JSON around quotes and backslashes')
from (select (jsonb_populate_record(null::public.alert_incidents, jsonb_build_object(
  'id', 0, 'kind', 'token_rejected', 'subject', 'x', 'summary', 's', 'opened_at', now(),
  'details', jsonb_build_object('reason', 'a "quoted" access_token=EAAGsecret4"\ and Bearer EAAGsecret5" stay JSON')))).*) i;
update public.workspace_threads_tokens set rejected_at = now(), rejected_reason = 'Graph code 190'
where workspace_threads_account_id = 'aaaaaaaa-0000-0000-0000-000000000007';
select public.alert_tick();
select results_eq(
  $$ select occurrences, (details ->> 'account_count')::int, (select count(*) from pg_temp.rejected_messages())
     from public.alert_incidents where kind = 'token_rejected' and subject = 'accounts' and resolved_at is null $$,
  $$ values (2, 6, 2::bigint) $$,
  'a sixth account joins the open incident: counted, not sent');
update public.workspace_threads_tokens t set rejected_at = null, rejected_reason = null
from public.workspace_threads_accounts a
where a.id = t.workspace_threads_account_id and a.username in ('alice', 'carol', 'dan', 'erin', 'frank');
select public.alert_tick();
select is((select count(*) from public.alert_incidents where kind = 'token_rejected' and subject = 'accounts' and resolved_at is null),
  1::bigint, 'fewer accounts, still some: the accounts incident goes on (it does not split into per-account ones)');
update public.workspace_threads_tokens set rejected_at = null, rejected_reason = null where rejected_at is not null;
select public.alert_tick();
select results_eq(
  $$ select subject, event from pg_temp.rejected_messages() where event = 'resolved' order by subject $$,
  $$ values ('aaaaaaaa-0000-0000-0000-000000000002'::text, 'resolved'::text), ('accounts', 'resolved') $$,
  'no account left: one resolved for the accounts incident (and one for bob''s own)');

-- Quoted upstream text pings nobody.
update public.workspace_threads_accounts set sync_paused_at = now(),
  sync_paused_reason = 'Paused: <!channel> <@U123> @everyone & Bearer EAAGsecret3'
where username = 'carol';
select public.alert_tick();
select results_eq(
  $$ select m.body ->> 'text', m.body ->> 'content', m.body -> 'allowed_mentions'
     from public.alert_messages m join public.alert_incidents i on i.id = m.incident_id
     where i.kind = 'account_paused' and i.subject = 'aaaaaaaa-0000-0000-0000-000000000003' $$,
  $$ values ('[ALERT] Threads Sync: Account @carol (Acme) is paused: Paused: &lt;!channel&gt; &lt;@U123&gt; @everyone &amp; Bearer [redacted]'::text,
     '[ALERT] Threads Sync: Account @carol (Acme) is paused: Paused: <!channel> <@U123> @everyone & Bearer [redacted]'::text,
     '{"parse": []}'::jsonb) $$,
  'Slack text escapes &, <, >; Discord content has allowed_mentions parse []; both redacted');

delete from vault.secrets where name = 'alert_webhook_url';
select throws_ok($$ select public.send_test_alert() $$, 'TS250', null, 'a test alert without the Vault secret raises TS250');

select * from finish();
rollback;
