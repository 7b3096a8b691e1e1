// token-refresh's setting and request body: defaults, bounds, and the options that cannot go
// together.
import { assertEquals, assertMatch } from "../helpers/assert.ts";
import { loadTokenRefreshConfig } from "../../supabase/functions/_shared/token-refresh/config.ts";
import { tokenRefreshRequestSchema } from "../../supabase/functions/_shared/token-refresh/handler.ts";
import { describeBodyIssues } from "../../supabase/functions/_shared/platform/json-body.ts";

function failure(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    return (error as Error).message;
  }
  return "";
}

Deno.test("TOKEN_REFRESH_WINDOW_DAYS defaults to 15 days and is read as a number", () => {
  assertEquals(loadTokenRefreshConfig({}).TOKEN_REFRESH_WINDOW_DAYS, 15);
  assertEquals(
    loadTokenRefreshConfig({ TOKEN_REFRESH_WINDOW_DAYS: "7" }).TOKEN_REFRESH_WINDOW_DAYS,
    7,
  );
});

Deno.test("a bad TOKEN_REFRESH_WINDOW_DAYS stops the function with the variable named", () => {
  assertMatch(
    failure(() => loadTokenRefreshConfig({ TOKEN_REFRESH_WINDOW_DAYS: "60" })),
    /TOKEN_REFRESH_WINDOW_DAYS must be at most 59/,
  );
  assertMatch(
    failure(() => loadTokenRefreshConfig({ TOKEN_REFRESH_WINDOW_DAYS: "0" })),
    /TOKEN_REFRESH_WINDOW_DAYS must be at least 1/,
  );
  assertMatch(
    failure(() => loadTokenRefreshConfig({ TOKEN_REFRESH_WINDOW_DAYS: "two weeks" })),
    /TOKEN_REFRESH_WINDOW_DAYS must be a number/,
  );
});

function problems(body: unknown): string {
  const parsed = tokenRefreshRequestSchema.safeParse(body);
  return parsed.success ? "" : describeBodyIssues(parsed.error);
}

Deno.test("token-refresh takes {} (pg_cron), a scope, a window and wait", () => {
  assertEquals(tokenRefreshRequestSchema.parse({}), { wait: false });
  assertEquals(
    problems({ workspaceId: "0cebb083-e37e-4751-88e6-44179deda746", windowDays: 59, wait: true }),
    "",
  );
});

Deno.test("token-refresh names each problem of a bad body", () => {
  assertMatch(problems({ windowDays: 60 }), /windowDays must be at most 59/);
  assertMatch(problems({ accountIds: [] }), /accountIds must list at least one account/);
  assertMatch(problems({ accountIds: ["x"] }), /accountIds\[0\] must be a UUID/);
  assertMatch(problems({ everything: true }), /unknown keys: everything/);
  assertMatch(
    problems({
      accountIds: ["0cebb083-e37e-4751-88e6-44179deda746"],
      workspaceId: "0cebb083-e37e-4751-88e6-44179deda746",
    }),
    /workspaceId cannot be combined with accountIds/,
  );
  assertMatch(
    problems({ runId: "0cebb083-e37e-4751-88e6-44179deda746", windowDays: 3 }),
    /runId continues an existing run/,
  );
});
