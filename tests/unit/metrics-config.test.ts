import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { loadMetricsConfig } from "../../supabase/functions/_shared/metrics/config.ts";

const secret = "m".repeat(32);
const problem = (env: Record<string, string>) => {
  try {
    loadMetricsConfig(env);
  } catch (error) {
    return (error as Error).message;
  }
  return "";
};

Deno.test("METRICS_SECRET is required, at least 32 bytes, and no other function's secret", () => {
  assertEquals(loadMetricsConfig({ METRICS_SECRET: secret }).METRICS_SECRET, secret);
  assertMatch(problem({}), /METRICS_SECRET is required/);
  assertMatch(problem({ METRICS_SECRET: "short" }), /METRICS_SECRET must be at least 32 bytes/);
  assertMatch(
    problem({ METRICS_SECRET: secret, CRON_SECRET: secret }),
    /METRICS_SECRET must differ from CRON_SECRET and CONNECT_ACCOUNT_SECRET/,
  );
  assertMatch(
    problem({ METRICS_SECRET: secret, CONNECT_ACCOUNT_SECRET: secret }),
    /must differ/,
  );
  // The message names the variable, never its value.
  assertEquals(problem({ METRICS_SECRET: "short-secret-value" }).includes("short-secret"), false);
});
