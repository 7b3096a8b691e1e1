/**
 * The metrics endpoint's families and their rendering in the Prometheus text exposition format
 * 0.0.4 (`text/plain; version=0.0.4`), the format every Prometheus, Grafana Agent/Alloy and
 * Datadog OpenMetrics check scrapes. Not OpenMetrics 1.0: its `# EOF` and counter naming buy
 * nothing here, since every figure is a gauge over a window the database computes.
 *
 * The samples come from public.collect_sync_metrics (one row per sample); this file adds each
 * family's HELP and TYPE and escapes label values. A family listed here always gets its HELP
 * and TYPE lines, so a scrape before the first run still names every family.
 */

export const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

export interface Family {
  name: string;
  type: "gauge";
  help: string;
}

/** Every family the endpoint serves, in the order it serves them. */
export const FAMILIES: readonly Family[] = [
  {
    name: "threads_sync_runs_24h",
    type: "gauge",
    help:
      "Runs started in the last 24 hours, plus every run still running, by job type and status.",
  },
  {
    name: "threads_sync_run_duration_seconds_24h",
    type: "gauge",
    help:
      "Duration of the runs that ended in the last 24 hours (skipped runs left out): quantile 0.5, 0.95 and 1 (the longest), by job type.",
  },
  {
    name: "threads_sync_last_run_duration_seconds",
    type: "gauge",
    help: "Duration of the latest run that ended in the last 24 hours (not skipped), by job type.",
  },
  {
    name: "threads_sync_last_run_end_timestamp_seconds",
    type: "gauge",
    help: "When that run ended, in Unix seconds, by job type.",
  },
  {
    name: "threads_sync_accounts",
    type: "gauge",
    help: "Accounts by sync health state (the view account_sync_state).",
  },
  {
    name: "threads_sync_account_tokens",
    type: "gauge",
    help:
      "Active accounts by the state of their primary token (account_token_health.token_status).",
  },
  {
    name: "threads_sync_fresh_share",
    type: "gauge",
    help:
      "Share of active accounts whose last complete sync is younger than the freshness target (view sync_freshness); absent without active accounts.",
  },
  {
    name: "threads_sync_oldest_complete_sync_age_seconds",
    type: "gauge",
    help:
      "Age of the oldest last complete sync among active accounts; absent until one has synced.",
  },
  {
    name: "threads_sync_fresh_accounts",
    type: "gauge",
    help: "Active accounts whose last complete sync is younger than the freshness target.",
  },
  {
    name: "threads_sync_active_accounts",
    type: "gauge",
    help: "Active accounts (the freshness share's denominator).",
  },
  {
    name: "threads_sync_freshness_target_seconds",
    type: "gauge",
    help: "The freshness target (monitoring_settings.sync_freshness_target_minutes) in seconds.",
  },
  {
    name: "threads_sync_open_incidents",
    type: "gauge",
    help:
      "Open alert incidents (alert_incidents, resolved_at NULL) past their notify time, by kind.",
  },
  {
    name: "threads_sync_api_calls_24h",
    type: "gauge",
    help: "Threads API calls of every sync step and token refresh in the last 24 hours.",
  },
  {
    name: "threads_sync_api_rate_limited_24h",
    type: "gauge",
    help: "Rate-limit answers of the Threads API in the last 24 hours.",
  },
  {
    name: "threads_sync_account_call_budget_max_share",
    type: "gauge",
    help:
      "The highest account's API calls in the last 24 hours over SYNC_ACCOUNT_DAILY_CALL_BUDGET; at 0.8 the sync defers the account for an hour.",
  },
];

export interface Sample {
  metric: string;
  labels: Record<string, string>;
  value: number;
}

const escapeHelp = (text: string) => text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
const escapeLabel = (text: string) =>
  text.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function formatLabels(labels: Record<string, string>): string {
  const pairs = Object.keys(labels).sort().map((k) => `${k}="${escapeLabel(labels[k])}"`);
  return pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
}

/**
 * The exposition text of `samples`: each family of FAMILIES with its HELP, TYPE and samples
 * (sorted by labels, so a scrape reads the same every time). A sample of a family not listed
 * is a bug in the SQL or here, so it throws rather than serve an undocumented series.
 */
export function renderExposition(samples: readonly Sample[]): string {
  const byFamily = new Map<string, string[]>(FAMILIES.map((f) => [f.name, []]));
  for (const sample of samples) {
    const lines = byFamily.get(sample.metric);
    if (!lines) throw new Error(`Cannot render metric ${sample.metric} as it has no family`);
    lines.push(`${sample.metric}${formatLabels(sample.labels)} ${formatValue(sample.value)}`);
  }
  const out: string[] = [];
  for (const family of FAMILIES) {
    out.push(`# HELP ${family.name} ${escapeHelp(family.help)}`);
    out.push(`# TYPE ${family.name} ${family.type}`);
    out.push(...byFamily.get(family.name)!.sort());
  }
  return out.join("\n") + "\n";
}
