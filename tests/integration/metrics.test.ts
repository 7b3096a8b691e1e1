// The metrics endpoint as Prometheus sees it: after a real sync run on the local stack, its
// answer parses with a Prometheus text-format parser, names every family with its labels, and
// its figures are what the database says. And it refuses strangers and other methods.
import parsePrometheus from "parse-prometheus-text-format";
import { assert, assertEquals } from "../helpers/assert.ts";
import { testDb, testStack } from "../helpers/stack.ts";
import { callSync } from "../helpers/sync.ts";
import { simulator } from "../helpers/simulator.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import { FAMILIES } from "../../supabase/functions/_shared/metrics/exposition.ts";

interface ParsedFamily {
  name: string;
  help: string;
  type: string;
  metrics: { value: string; labels?: Record<string, string> }[];
}

async function scrape(init: { secret?: string | null; method?: string } = {}) {
  const stack = await testStack();
  const secret = init.secret === undefined ? stack.metricsSecret : init.secret;
  return await fetch(`${stack.functionsUrl}/metrics`, {
    method: init.method ?? "GET",
    headers: secret === null ? {} : { Authorization: `Bearer ${secret}` },
  });
}

const JOB_TYPES = ["scheduled_sync", "manual_sync", "token_refresh", "housekeeping", "dry_run"];
const RUN_STATUSES = ["running", "completed", "partial", "failed", "skipped"];
const ACCOUNT_STATES = [
  "healthy",
  "never_synced",
  "rate_limited",
  "token_rejected",
  "failing",
  "paused",
  "inactive",
];
const TOKEN_STATUSES = ["ok", "expiring_soon", "expired", "rejected", "missing"];
const INCIDENT_KINDS = [
  "run_failed",
  "account_paused",
  "token_rejected",
  "account_rate_limited",
  "token_expiring",
  "freshness_low",
];

/** The label names each family's samples carry. */
const LABELS: Record<string, string[]> = {
  threads_sync_runs_24h: ["job_type", "status"],
  threads_sync_run_duration_seconds_24h: ["job_type", "quantile"],
  threads_sync_last_run_duration_seconds: ["job_type"],
  threads_sync_last_run_end_timestamp_seconds: ["job_type"],
  threads_sync_accounts: ["state"],
  threads_sync_account_tokens: ["status"],
  threads_sync_open_incidents: ["kind"],
};

const sorted = (values: Iterable<string>) => [...values].sort();
const close = (actual: number, expected: number, what: string, tolerance = 1e-6) =>
  assert(Math.abs(actual - expected) <= tolerance, `${what}: ${actual}, database ${expected}`);

Deno.test({
  name:
    "metrics after a sync run parse as Prometheus text, name every family and label, and match the database",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const ws = await newWorkspace(2, 3);
    const limited = ws.accounts[0];
    // One rate-limit answer (per-user limit, a 3 s wait) so the run has one to count.
    await simulator("/faults", {
      body: {
        kind: "daily_budget",
        calls: 0,
        windowMs: 3000,
        count: 1,
        userId: limited.id,
        endpoints: ["threads"],
      },
    });
    try {
      const run = await callSync({ workspaceId: ws.workspaceId, wait: true });
      assertEquals(run.body.status, "completed", JSON.stringify(run.body));

      const response = await scrape();
      assertEquals(response.status, 200);
      assertEquals(
        response.headers.get("content-type"),
        "text/plain; version=0.0.4; charset=utf-8",
      );
      const families = parsePrometheus(await response.text()) as ParsedFamily[];

      // Every family, once, as a documented gauge; nothing else.
      assertEquals(families.map((f) => f.name), FAMILIES.map((f) => f.name));
      const family = new Map(families.map((f) => [f.name, f]));
      for (const f of FAMILIES) {
        assertEquals(family.get(f.name)!.type, "GAUGE", f.name);
        assertEquals(family.get(f.name)!.help, f.help, f.name);
        for (const sample of family.get(f.name)!.metrics) {
          assertEquals(sorted(Object.keys(sample.labels ?? {})), LABELS[f.name] ?? [], f.name);
          assert(Number.isFinite(Number(sample.value)), `${f.name} ${sample.value}`);
        }
      }
      const samples = (name: string) => family.get(name)!.metrics;
      const value = (name: string, labels: Record<string, string> = {}) => {
        const found = samples(name).filter((s) =>
          Object.entries(labels).every(([k, v]) => s.labels?.[k] === v)
        );
        assertEquals(found.length, 1, `${name} ${JSON.stringify(labels)}`);
        return Number(found[0].value);
      };

      // Runs: every known job type with every status (0 included), counted as the table does.
      const runSeries = samples("threads_sync_runs_24h").map((s) => s.labels!);
      for (const jobType of JOB_TYPES) {
        assertEquals(
          sorted(runSeries.filter((l) => l.job_type === jobType).map((l) => l.status)),
          sorted(RUN_STATUSES),
          jobType,
        );
      }
      const [runs] = await sql`select count(*)::int as n from public.system_job_logs
        where job_type = 'manual_sync' and status = 'completed'
          and started_at > now() - interval '24 hours'`;
      assertEquals(
        value("threads_sync_runs_24h", { job_type: "manual_sync", status: "completed" }),
        runs.n,
      );

      // Durations: the latest ended manual run, and its quantiles.
      const [last] = await sql`select extract(epoch from completed_at - started_at)::float8 as s,
          extract(epoch from completed_at)::float8 as ended
        from public.system_job_logs
        where job_type = 'manual_sync' and status not in ('running', 'skipped')
        order by completed_at desc limit 1`;
      close(
        value("threads_sync_last_run_duration_seconds", { job_type: "manual_sync" }),
        last.s,
        "last run duration",
      );
      close(
        value("threads_sync_last_run_end_timestamp_seconds", { job_type: "manual_sync" }),
        last.ended,
        "last run end",
        1e-3,
      );
      assertEquals(
        sorted(
          samples("threads_sync_run_duration_seconds_24h")
            .filter((s) => s.labels!.job_type === "manual_sync").map((s) => s.labels!.quantile),
        ),
        ["0.5", "0.95", "1"],
      );
      assert(
        value("threads_sync_run_duration_seconds_24h", {
          job_type: "manual_sync",
          quantile: "1",
        }) >=
          last.s,
        "the longest manual run lasted at least as long as the latest",
      );

      // Accounts by health and by token, as the console's views count them.
      const states = await sql`select state, count(*)::int as n from public.account_sync_state
        group by state`;
      assertEquals(
        sorted(samples("threads_sync_accounts").map((s) => s.labels!.state)),
        sorted(ACCOUNT_STATES),
      );
      for (const state of ACCOUNT_STATES) {
        assertEquals(
          value("threads_sync_accounts", { state }),
          states.find((r) => r.state === state)?.n ?? 0,
          state,
        );
      }
      assert(
        value("threads_sync_accounts", { state: "healthy" }) >= 2,
        "the run's accounts are healthy",
      );
      const tokens = await sql`select token_status, count(*)::int as n
        from public.account_token_health where is_active group by token_status`;
      assertEquals(
        sorted(samples("threads_sync_account_tokens").map((s) => s.labels!.status)),
        sorted(TOKEN_STATUSES),
      );
      for (const status of TOKEN_STATUSES) {
        assertEquals(
          value("threads_sync_account_tokens", { status }),
          tokens.find((r) => r.token_status === status)?.n ?? 0,
          status,
        );
      }

      // Freshness: the view's overall row.
      const [fresh] = await sql`select fresh_share::float8 as share, fresh_accounts::int as fresh,
          active_accounts::int as active, target_minutes
        from public.sync_freshness where scope = 'overall'`;
      close(value("threads_sync_fresh_share"), fresh.share, "fresh share");
      assertEquals(value("threads_sync_fresh_accounts"), fresh.fresh);
      assertEquals(value("threads_sync_active_accounts"), fresh.active);
      assertEquals(value("threads_sync_freshness_target_seconds"), fresh.target_minutes * 60);
      assert(value("threads_sync_oldest_complete_sync_age_seconds") >= 0);

      // Open incidents, as alert_incidents holds them.
      const incidents = await sql`select kind, count(*)::int as n from public.alert_incidents
        where resolved_at is null and notify_after <= now() group by kind`;
      assertEquals(
        sorted(samples("threads_sync_open_incidents").map((s) => s.labels!.kind)),
        sorted(INCIDENT_KINDS),
      );
      for (const kind of INCIDENT_KINDS) {
        assertEquals(
          value("threads_sync_open_incidents", { kind }),
          incidents.find((r) => r.kind === kind)?.n ?? 0,
          kind,
        );
      }

      // API calls and rate-limit answers: the call budget's own sum over 24 hours.
      const [api] =
        await sql`select coalesce(sum((metadata ->> 'api_calls')::int), 0)::int as calls,
          coalesce(sum((metadata ->> 'api_rate_limit_errors')::int), 0)::int as limited
        from public.sync_logs where completed_at > now() - interval '24 hours'`;
      const [top] = await sql`select max(calls)::int as calls from (
          select sum((metadata ->> 'api_calls')::int) as calls from public.sync_logs
          where completed_at > now() - interval '24 hours' group by workspace_threads_account_id) c`;
      const [mine] =
        await sql`select coalesce(sum((metadata ->> 'api_rate_limit_errors')::int), 0)::int as n
        from public.sync_logs where run_id = ${run.body.runId}`;
      assertEquals(value("threads_sync_api_calls_24h"), api.calls);
      assert(api.calls > 0, "the run called the API");
      assertEquals(value("threads_sync_api_rate_limited_24h"), api.limited);
      assert(mine.n >= 1, "the run met the rate-limit answer");
      // The test stack keeps the default SYNC_ACCOUNT_DAILY_CALL_BUDGET.
      close(value("threads_sync_account_call_budget_max_share"), top.calls / 48_000, "max share");
    } finally {
      await sql.end();
    }
  },
});

Deno.test({
  name:
    "metrics answers 401 without METRICS_SECRET (even with the cron secret) and 405 to other methods",
  sanitizeResources: false,
  fn: async () => {
    const stack = await testStack();
    for (const secret of [null, "wrong-secret", stack.cronSecret]) {
      const response = await scrape({ secret });
      assertEquals(response.status, 401, String(secret));
      assertEquals(response.headers.get("content-type"), "application/json");
      assertEquals(await response.json(), {
        error: "unauthorized",
        detail: "Authorization must be `Bearer <METRICS_SECRET>`",
      });
    }
    for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
      const response = await scrape({ method });
      assertEquals(response.status, 405, method);
      assertEquals(response.headers.get("allow"), "GET");
      assertEquals((await response.json()).error, "method_not_allowed");
    }
  },
});
