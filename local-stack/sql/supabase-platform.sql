-- What a hosted Supabase project has before the first migration runs, recreated for the
-- local stack: the API roles, the `extensions` schema, the default privileges Supabase sets on
-- `public`, and the extensions its tests and tooling expect. Idempotent: `npm run stack -- up`
-- runs it on every start. Never part of supabase/migrations: the hosted platform owns these.

do $$
begin
  -- The three roles PostgREST switches to. NOLOGIN: nobody connects as them directly.
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  -- The role PostgREST logs in as, switching to one of the above per request.
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$$;

grant anon, authenticated, service_role to authenticator;
grant anon, authenticated, service_role to postgres;

create schema if not exists extensions;
grant usage on schema extensions to postgres, anon, authenticated, service_role;

-- Supabase grants the API roles everything in `public` by default; Row Level Security and
-- explicit revokes are what keep data private. Reproducing that here is what makes the
-- project's RLS and privilege tests meaningful.
grant usage on schema public to anon, authenticated, service_role;
alter default privileges in schema public grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public grant all on functions to anon, authenticated, service_role;
alter default privileges in schema public grant all on sequences to anon, authenticated, service_role;

create extension if not exists pgcrypto with schema extensions;
create extension if not exists "uuid-ossp" with schema extensions;
create extension if not exists pgtap with schema extensions;
create extension if not exists plpgsql_check with schema extensions;

-- Hosted projects resolve unqualified names in `extensions` too.
alter database postgres set search_path to "$user", public, extensions;
