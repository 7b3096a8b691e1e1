-- The 15-minute schedule: pg_cron starts the scheduled-sync Edge Function at minutes 0, 15,
-- 30 and 45 through public.trigger_edge_function (pg_net, Vault's project_url and cron_secret).
--
-- The function answers 202 with the run id at once (the run continues under
-- EdgeRuntime.waitUntil), well within trigger_edge_function's 10 s pg_net timeout. A tick that
-- finds a run still going is recorded as a skipped run; a tick that finds a dead run resumes it.
-- cron.schedule with a job name replaces that job, so applying this twice leaves one job.
select cron.schedule(
  'scheduled-sync',
  '0,15,30,45 * * * *',
  $$select public.trigger_edge_function('scheduled-sync')$$
);
