-- One API rate for the app: claim_api_slots hands out send times 1/rps apart across every
-- caller, never banks idle time, honours the pause set by pause_api_calls, and no API role
-- may call either. (Claims here are sequential in one transaction; the Deno test
-- tests/integration/api-rate.test.ts races two connections.) Times are far in the future so
-- the row's real state (a sync of this stack) never decides a result.
begin;
select plan(19);
set local client_min_messages = warning;

-- Spacing -------------------------------------------------------------------------------------
select is(
  public.claim_api_slots(5, 10, '2100-01-01 00:00:00+00'),
  array['2100-01-01 00:00:00+00', '2100-01-01 00:00:00.1+00', '2100-01-01 00:00:00.2+00',
        '2100-01-01 00:00:00.3+00', '2100-01-01 00:00:00.4+00']::timestamptz[],
  'five slots at 10/s: from now, exactly 100 ms apart');
select is(
  public.claim_api_slots(3, 10, '2100-01-01 00:00:00+00'),
  array['2100-01-01 00:00:00.5+00', '2100-01-01 00:00:00.6+00', '2100-01-01 00:00:00.7+00']::timestamptz[],
  'the next caller at the same moment gets the slots after them');
select results_eq(
  $$ select next_slot_at, last_rps from public.threads_api_rate_limits where name = 'app' $$,
  $$ values ('2100-01-01 00:00:00.8+00'::timestamptz, 10::numeric) $$,
  'the row holds the next free time, one step after the last slot, and the rate');
select is(
  (public.claim_api_slots(2, 10, '2100-01-01 00:00:10+00'))[1],
  '2100-01-01 00:00:10+00'::timestamptz,
  'idle time is not banked: after a quiet spell the first slot is now');
select is(
  (select s[2] - s[1] from public.claim_api_slots(2, 3, '2100-01-01 00:01:00+00') s),
  interval '0.333334 seconds',
  'a step is 1/rps rounded up to a microsecond: never faster than asked');
create temporary table c190 on commit drop as
  select public.claim_api_slots(3, 190, '2100-01-01 00:02:00+00') as s;
select is(
  (public.claim_api_slots(1, 190, '2100-01-01 00:02:00+00'))[1] - (select s[3] from c190),
  interval '0.005264 seconds',
  'across claims the gap is the same step as within one (190/s: 5264 us)');

-- The pause -----------------------------------------------------------------------------------
select is(public.pause_api_calls(interval '2 seconds', '2100-01-01 00:03:00+00'),
  '2100-01-01 00:03:02+00'::timestamptz, 'a pause lasts from now for the cool-down');
select is(public.pause_api_calls(interval '1 second', '2100-01-01 00:03:00.5+00'),
  '2100-01-01 00:03:02+00'::timestamptz, 'a shorter pause never shortens the one in force');
select is((public.claim_api_slots(1, 100, '2100-01-01 00:03:00.5+00'))[1],
  '2100-01-01 00:03:02+00'::timestamptz, 'no slot is handed out before the pause ends');
select is((public.claim_api_slots(1, 100, '2100-01-01 00:03:00.5+00'))[1],
  '2100-01-01 00:03:02.01+00'::timestamptz, 'after the pause, the rate again');

-- Any one-second window, across many callers ----------------------------------------------------
-- 300 claims by "callers" of 1..17 slots each, at 100/s and some at 50/s, their clocks a
-- little apart (p_now moving 0..40 ms between claims, mostly behind the row; every 50th
-- claim after a quiet spell).
create temporary table slots (at timestamptz) on commit drop;
do $$
declare
  k integer;
  t timestamptz := '2100-01-02 00:00:00+00';
begin
  for k in 1..300 loop
    t := t + (k * 7 % 5) * interval '10 milliseconds'
      + case when k % 50 = 0 then interval '30 seconds' else interval '0' end;
    insert into slots
    select unnest(public.claim_api_slots(1 + k * 13 % 17, case when k % 7 = 0 then 50 else 100 end, t));
  end loop;
end
$$;
select is((select count(distinct at)::int from slots), (select count(*)::int from slots),
  'no slot is handed out twice');
create temporary table windows on commit drop as
  select (select count(*) from slots b where b.at >= a.at and b.at < a.at + interval '1 second') as n
  from slots a;
select cmp_ok((select max(n)::int from windows), '<=', 100,
  'no one-second window holds more than 100 slots (the rate of the fastest claims)');
select cmp_ok((select max(n)::int from windows), '>=', 95, 'and the rate is used: a busy second holds ~100');
select is(
  (select min(gap) from (select at - lag(at) over (order by at) as gap from slots) g),
  interval '10 milliseconds',
  'no two slots closer than 1/rps');

-- Bad arguments -------------------------------------------------------------------------------
select throws_ok($$ select public.claim_api_slots(0, 10) $$, 'TS240',
  'p_count must be between 1 and 1000: current value is 0', 'a claim of nothing is refused');
select throws_ok($$ select public.claim_api_slots(1, 0) $$, 'TS240',
  'p_rps must be above 0 and at most 100000: current value is 0', 'a rate of zero is refused');
select throws_ok($$ select public.pause_api_calls(interval '-1 second') $$, 'TS240',
  'p_for must be above 0 and at most 10 minutes: current value is -00:00:01', 'a negative pause is refused');

-- Privileges ----------------------------------------------------------------------------------
select is_empty(
  $$ select r.rolname, f.sig from (values ('anon'), ('authenticated'), ('service_role')) r(rolname)
     cross join (values ('public.claim_api_slots(integer, numeric, timestamptz)'),
                        ('public.pause_api_calls(interval, timestamptz)')) f(sig)
     where pg_catalog.has_function_privilege(r.rolname, f.sig, 'EXECUTE') $$,
  'no API role may claim slots or pause the app''s calls');
select is_empty(
  $$ select r.rolname from (values ('anon'), ('authenticated'), ('service_role')) r(rolname)
     where pg_catalog.has_table_privilege(r.rolname, 'public.threads_api_rate_limits',
       'SELECT, INSERT, UPDATE, DELETE') $$,
  'no API role may read or write the rate row');

select * from finish();
rollback;
