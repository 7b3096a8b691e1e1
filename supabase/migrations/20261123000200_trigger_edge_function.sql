-- public.trigger_edge_function: how pg_cron (and an operator at the SQL console) starts an
-- Edge Function.
--
-- The project URL and the cron secret are read from Supabase Vault rather than written into
-- the cron job, so the secret never appears in `cron.job`, in a migration or in a log, and can
-- be rotated with `vault.update_secret` without touching the schedule.

/**
 * trigger_edge_function(function_name, body) -> bigint
 *
 * POSTs `body` to `<project_url>/functions/v1/<function_name>` through pg_net, with
 * `Authorization: Bearer <cron_secret>` and an explicit timeout, and returns the pg_net
 * request id (look it up in `net._http_response` for the answer, kept 6 hours).
 *
 * pg_net sends after the calling transaction commits and never retries: a lost request is
 * handled by the next trigger (the sync resumes unfinished runs), not here.
 *
 * Raises:
 *   TS101  a Vault secret (`project_url` or `cron_secret`) is missing or empty
 *   TS102  function_name is not a valid Edge Function name
 *
 * Security definer because reading `vault.decrypted_secrets` needs the owner's rights; the
 * search_path is empty so every name is schema-qualified. Only `postgres` and `service_role`
 * may execute it (pg_cron runs jobs as `postgres`).
 */
create or replace function public.trigger_edge_function(
  function_name text,
  body jsonb default '{}'::jsonb
) returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  -- The function answers within this (202 with the run id, the work continuing in the
  -- background), so this bounds how long pg_net's worker waits. pg_net's own default is 5 s;
  -- 10 s leaves room for a cold start on the hosted platform.
  request_timeout_ms constant int := 10000;
  project_url text;
  cron_secret text;
begin
  if function_name is null or function_name !~ '^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$' then
    raise exception using
      errcode = 'TS102',
      message = format('function_name must be an Edge Function name (letters, digits, - and _): current value is %L', function_name);
  end if;

  select s.decrypted_secret into project_url
  from vault.decrypted_secrets s where s.name = 'project_url';
  select s.decrypted_secret into cron_secret
  from vault.decrypted_secrets s where s.name = 'cron_secret';

  if coalesce(project_url, '') = '' then
    raise exception using
      errcode = 'TS101',
      message = format('Cannot call Edge Function %L as the Vault secret "project_url" is missing', function_name),
      hint = 'Create it with: select vault.create_secret(''https://<project-ref>.supabase.co'', ''project_url'');';
  end if;
  if coalesce(cron_secret, '') = '' then
    raise exception using
      errcode = 'TS101',
      message = format('Cannot call Edge Function %L as the Vault secret "cron_secret" is missing', function_name),
      hint = 'Create it with: select vault.create_secret(''<the CRON_SECRET of the functions>'', ''cron_secret'');';
  end if;

  return net.http_post(
    url := rtrim(project_url, '/') || '/functions/v1/' || function_name,
    body := coalesce(body, '{}'::jsonb),
    headers := jsonb_build_object(
      'Content-Type', 'application/json',
      'Authorization', 'Bearer ' || cron_secret
    ),
    timeout_milliseconds := request_timeout_ms
  );
end;
$$;

comment on function public.trigger_edge_function(text, jsonb) is
  'POSTs to an Edge Function with the Vault cron secret through pg_net; returns the pg_net request id. Raises TS101 when a Vault secret is missing.';

-- Supabase grants execute on new functions in public to the API roles by default: take it back.
revoke all on function public.trigger_edge_function(text, jsonb) from public, anon, authenticated;
grant execute on function public.trigger_edge_function(text, jsonb) to service_role;
