-- The daily token refresh: pg_cron starts the token-refresh Edge Function at 03:07 UTC through
-- public.trigger_edge_function (pg_net, Vault's project_url and cron_secret).
--
-- Why daily: a long-lived Threads token lasts 60 days and can be refreshed once it is 24 hours
-- old; the function refreshes every token expiring within TOKEN_REFRESH_WINDOW_DAYS (15 by
-- default), so each token gets about 15 daily chances before it expires, and a day of API
-- trouble costs nothing. 03:07 is off the sync's quarter-hours and before housekeeping (03:17).
--
-- The function answers 202 at once and works on under EdgeRuntime.waitUntil, well within
-- trigger_edge_function's 10 s pg_net timeout. cron.schedule with a job name replaces that
-- job, so applying this twice leaves one job.
select cron.schedule(
  'token-refresh',
  '7 3 * * *',
  $$select public.trigger_edge_function('token-refresh')$$
);
