// Configuration: defaults as documented, and one clear message per bad variable.
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { loadConfig, tokenKeys } from "../../supabase/functions/_shared/platform/config.ts";

const KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));
const VALID = {
  SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:54322/postgres",
  CRON_SECRET: "a-cron-secret-of-enough-length",
  TOKEN_ENCRYPTION_KEY: KEY,
};

Deno.test("config applies the documented defaults", () => {
  const config = loadConfig(VALID);
  assertEquals(config.THREADS_API_BASE_URL, "https://graph.threads.net/v1.0");
  assertEquals(config.SYNC_BATCH_SIZE, 5);
  assertEquals(config.SYNC_BATCH_DELAY_MS, 0);
  assertEquals(config.SYNC_LOCK_TTL_MINUTES, 5);
  assertEquals(tokenKeys(config), [KEY]);
});

Deno.test("config names every missing secret", () => {
  let message = "";
  try {
    loadConfig({ SUPABASE_DB_URL: VALID.SUPABASE_DB_URL });
  } catch (error) {
    message = (error as Error).message;
  }
  assertMatch(message, /CRON_SECRET is required/);
  assertMatch(message, /TOKEN_ENCRYPTION_KEY is required/);
});

Deno.test("config names a malformed value", () => {
  const attempt = (env: Record<string, string>) => {
    try {
      loadConfig({ ...VALID, ...env });
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  };
  assertMatch(attempt({ SYNC_BATCH_SIZE: "zero" }), /SYNC_BATCH_SIZE must be a number/);
  assertMatch(attempt({ SYNC_BATCH_SIZE: "0" }), /SYNC_BATCH_SIZE must be at least 1/);
  assertMatch(attempt({ TOKEN_ENCRYPTION_KEY: "short" }), /base64 of 32 random bytes/);
  assertMatch(attempt({ THREADS_API_BASE_URL: "not a url" }), /THREADS_API_BASE_URL must be a URL/);
  assertMatch(
    attempt({ TOKEN_ENCRYPTION_KEYS_PREVIOUS: `${KEY},nope` }),
    /comma-separated base64 keys/,
  );
});

Deno.test("config lists previous keys after the current one", () => {
  const old = btoa(String.fromCharCode(...new Uint8Array(32).fill(9)));
  assertEquals(tokenKeys(loadConfig({ ...VALID, TOKEN_ENCRYPTION_KEYS_PREVIOUS: ` ${old} ` })), [
    KEY,
    old,
  ]);
});

Deno.test("config sets database timeouts by default and refuses ones that cannot work", () => {
  const config = loadConfig(VALID);
  assertEquals(
    [
      config.DB_STATEMENT_TIMEOUT_MS,
      config.DB_LOCK_TIMEOUT_MS,
      config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
    ],
    [30_000, 10_000, 60_000],
  );
  const attempt = (env: Record<string, string>) => {
    try {
      loadConfig({ ...VALID, ...env });
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  };
  assertMatch(attempt({ DB_LOCK_TIMEOUT_MS: "0" }), /DB_LOCK_TIMEOUT_MS must be at least 1/);
  assertMatch(
    attempt({ DB_STATEMENT_TIMEOUT_MS: "soon" }),
    /DB_STATEMENT_TIMEOUT_MS must be a number/,
  );
  assertMatch(
    attempt({ DB_STATEMENT_TIMEOUT_MS: "5000", DB_LOCK_TIMEOUT_MS: "8000" }),
    /DB_LOCK_TIMEOUT_MS must be at most DB_STATEMENT_TIMEOUT_MS: current values are 8000 and 5000/,
  );
  assertMatch(
    attempt({ DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: "3600001" }),
    /DB_IDLE_IN_TRANSACTION_TIMEOUT_MS must be at most 3600000/,
  );
});

Deno.test("config refuses a time budget at or above the wall-clock limit, naming both values", () => {
  const attempt = (env: Record<string, string>) => {
    try {
      loadConfig({ ...VALID, ...env });
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  };
  assertMatch(
    attempt({ SYNC_TIME_BUDGET_MS: "150000" }),
    /SYNC_TIME_BUDGET_MS must be below SYNC_WALL_CLOCK_LIMIT_MS: current values are 150000 and 150000/,
  );
  assertMatch(
    attempt({ SYNC_TIME_BUDGET_MS: "400000", SYNC_WALL_CLOCK_LIMIT_MS: "400000" }),
    /current values are 400000 and 400000/,
  );
  // A paid plan's limit admits a larger budget.
  const paid = loadConfig({
    ...VALID,
    SYNC_TIME_BUDGET_MS: "360000",
    SYNC_WALL_CLOCK_LIMIT_MS: "400000",
  });
  assertEquals([paid.SYNC_TIME_BUDGET_MS, paid.SYNC_WALL_CLOCK_LIMIT_MS], [360_000, 400_000]);
  assertEquals(loadConfig(VALID).SYNC_WALL_CLOCK_LIMIT_MS, 150_000);
});
