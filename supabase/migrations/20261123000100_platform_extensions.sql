-- Platform extensions the product is built on.
--
-- pg_cron runs the 15-minute schedule inside the database; pg_net sends the HTTP request
-- that starts an Edge Function, asynchronously and only after the calling transaction
-- commits. Both are available on every hosted Supabase project; `create extension` here
-- enables them on a fresh project so `supabase db push` is the only setup step.
-- (The local stack provides pg_net through a documented stand-in with the same interface.)

-- pg_cron installs into pg_catalog and creates the `cron` schema itself.
create extension if not exists pg_cron with schema pg_catalog;

-- pg_net's objects live in the `net` schema whatever schema the extension is registered in;
-- registering it in `extensions` keeps `public` clean (the advisors warn otherwise).
create extension if not exists pg_net with schema extensions;
