-- pg_net stand-in, installed by the local stack as an extension named `pg_net`, so that a
-- migration's `create extension if not exists pg_net with schema extensions` behaves as on a
-- hosted project. Same objects and signatures as pg_net 0.14: `net.http_get`,
-- `net.http_post`, `net.http_delete`, the `net.http_request_queue` table and the
-- `net._http_response` table.
--
-- Behaviour kept from the real extension:
-- * a call only queues a row; nothing is sent until the calling transaction commits (the row,
--   and the NOTIFY that wakes the worker, are transactional), so a rolled-back call sends
--   nothing;
-- * requests are never retried; each gets exactly one `net._http_response` row with the
--   status, headers and body, or `timed_out`/`error_msg` when it failed;
-- * responses are kept for 6 hours (`pg_net.ttl`).
-- The difference: the real extension sends from a background worker inside Postgres; here a
-- separate process of the local stack (local-stack/pg-net/worker.ts) does it.

create schema if not exists net;

create domain net.http_method as text check (value in ('GET', 'POST', 'DELETE'));

create unlogged table net.http_request_queue (
  id bigserial,
  method net.http_method not null,
  url text not null,
  headers jsonb not null,
  body bytea,
  timeout_milliseconds int not null
);

create unlogged table net._http_response (
  id bigint,
  status_code integer,
  content_type text,
  headers jsonb,
  content text,
  timed_out bool,
  error_msg text,
  created timestamptz not null default now()
);
create index on net._http_response (created);

-- Appends url-encoded params to a URL, as pg_net does.
create function net._append_params(url text, params jsonb) returns text
language sql immutable
as $$
  select case
    when params is null or params = '{}'::jsonb then url
    else url || case when strpos(url, '?') > 0 then '&' else '?' end || (
      select string_agg(key || '=' || replace(value, ' ', '%20'), '&')
      from jsonb_each_text(params)
    )
  end;
$$;

create function net._enqueue(
  method text, url text, headers jsonb, body bytea, timeout_milliseconds int
) returns bigint
language plpgsql
as $$
declare
  request_id bigint;
begin
  if timeout_milliseconds is null or timeout_milliseconds <= 0 then
    raise exception 'timeout_milliseconds must be a positive integer: current value is %',
      timeout_milliseconds;
  end if;
  insert into net.http_request_queue (method, url, headers, body, timeout_milliseconds)
  values (method, url, coalesce(headers, '{}'::jsonb), body, timeout_milliseconds)
  returning id into request_id;
  -- Delivered to the worker only at commit, like the queued row itself.
  perform pg_notify('pg_net_standin', request_id::text);
  return request_id;
end;
$$;

create function net.http_get(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language sql volatile security definer
set search_path = ''
as $$
  select net._enqueue('GET', net._append_params(url, params), headers, null, timeout_milliseconds);
$$;

create function net.http_post(
  url text,
  body jsonb default '{}'::jsonb,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{"Content-Type": "application/json"}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language plpgsql volatile security definer
set search_path = ''
as $$
declare
  content_type text;
begin
  select value into content_type from jsonb_each_text(headers) where lower(key) = 'content-type';
  -- pg_net only posts JSON bodies through http_post.
  if content_type is null then
    headers := coalesce(headers, '{}'::jsonb) || '{"Content-Type": "application/json"}'::jsonb;
  elsif content_type <> 'application/json' then
    raise exception 'Content-Type header must be "application/json"';
  end if;
  return net._enqueue(
    'POST', net._append_params(url, params), headers,
    convert_to(coalesce(body, '{}'::jsonb)::text, 'UTF8'), timeout_milliseconds
  );
end;
$$;

create function net.http_delete(
  url text,
  params jsonb default '{}'::jsonb,
  headers jsonb default '{}'::jsonb,
  timeout_milliseconds int default 5000
) returns bigint
language sql volatile security definer
set search_path = ''
as $$
  select net._enqueue('DELETE', net._append_params(url, params), headers, null, timeout_milliseconds);
$$;

revoke all on schema net from public;
revoke all on all functions in schema net from public;
revoke all on all tables in schema net from public;
grant usage on schema net to postgres, service_role;
grant execute on all functions in schema net to postgres, service_role;
grant select, insert, update, delete on all tables in schema net to postgres, service_role;
