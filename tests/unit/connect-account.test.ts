// connect-account's request contract, without a database: what is accepted, what is refused
// with which field named, and that a refusal never echoes the token back.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  type ConnectAccountDeps,
  createConnectAccountHandler,
} from "../../supabase/functions/_shared/connect-account/handler.ts";
import { connectAccountRequestSchema } from "../../supabase/functions/_shared/connect-account/request.ts";
import { describeBodyIssues } from "../../supabase/functions/_shared/platform/json-body.ts";
import { createLogger } from "../../supabase/functions/_shared/platform/log.ts";
import { RateLimiter } from "../../supabase/functions/_shared/threads/rate-limiter.ts";
import { loadConfig } from "../../supabase/functions/_shared/platform/config.ts";
import { loadConnectAccountConfig } from "../../supabase/functions/_shared/connect-account/config.ts";
import { functionsBaseUrl } from "../../cli/connect-account.ts";

const WS = "0cebb083-e37e-4751-88e6-44179deda746";
const TOKEN = "THQVsecretsecretsecretsecret0001";

function problems(body: unknown): string {
  const parsed = connectAccountRequestSchema.safeParse(body);
  return parsed.success ? "" : describeBodyIssues(parsed.error);
}

Deno.test("connect-account accepts a connect with an optional expiry, and a deactivation", () => {
  assertEquals(problems({ workspaceId: WS, accessToken: TOKEN }), "");
  assertEquals(problems({ workspaceId: WS, accessToken: TOKEN, expiresInSeconds: 5_183_944 }), "");
  assertEquals(
    problems({ workspaceId: WS, accessToken: TOKEN, expiresAt: "2027-01-01T00:00:00+00:00" }),
    "",
  );
  assertEquals(problems({ accountId: WS, deactivate: true }), "");
});

Deno.test("connect-account names each problem of a bad body", () => {
  assertMatch(problems({}), /workspaceId is required; accessToken is required/);
  assertMatch(
    problems({ workspaceId: WS, accessToken: "short" }),
    /accessToken must be a Threads access token/,
  );
  assertMatch(
    problems({ workspaceId: WS, accessToken: `${TOKEN} x` }),
    /accessToken must not contain spaces/,
  );
  assertMatch(
    problems({ workspaceId: WS, accessToken: TOKEN, expiresAt: "tomorrow" }),
    /expiresAt must be an ISO 8601 date-time/,
  );
  assertMatch(
    problems({ workspaceId: WS, accessToken: TOKEN, expiresInSeconds: 0 }),
    /expiresInSeconds must be at least 1/,
  );
  assertMatch(
    problems({
      workspaceId: WS,
      accessToken: TOKEN,
      expiresInSeconds: 1,
      expiresAt: "2027-01-01T00:00:00Z",
    }),
    /expiresInSeconds cannot be combined with expiresAt/,
  );
  assertMatch(problems({ deactivate: true }), /accountId is required with deactivate/);
  assertMatch(
    problems({ accountId: WS, deactivate: true, accessToken: TOKEN }),
    /accessToken cannot be combined with deactivate/,
  );
  assertMatch(problems({ deactivate: false, accountId: WS }), /deactivate must be true/);
  assertMatch(problems([]), /body must be a JSON object/);
});

Deno.test("a refused body never contains the token it carried", () => {
  for (
    const body of [
      { workspaceId: "x", accessToken: TOKEN },
      { workspaceId: WS, accessToken: TOKEN, extra: TOKEN },
      { workspaceId: WS, accessToken: TOKEN, expiresAt: TOKEN },
      { accountId: WS, deactivate: true, accessToken: TOKEN },
    ]
  ) {
    const detail = problems(body);
    assert(detail !== "", JSON.stringify(body));
    assert(!detail.includes(TOKEN), detail);
  }
});

const KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(3)));
const CRON_SECRET = "a-cron-secret-of-enough-length";
const SECRET = "a-connect-account-secret-of-32-bytes-or-more";
const deps: ConnectAccountDeps = {
  config: loadConfig({
    SUPABASE_DB_URL: "postgresql://postgres:postgres@127.0.0.1:1/postgres",
    CRON_SECRET,
    TOKEN_ENCRYPTION_KEY: KEY,
  }),
  secret: SECRET,
  // Any database use would fail the test: these requests must be refused before it.
  sql: new Proxy({}, { get: () => () => Promise.reject(new Error("database used")) }) as never,
  limiter: new RateLimiter({ maxRps: 10 }),
  log: createLogger({}, () => {}),
};
const handler = createConnectAccountHandler(deps);
const request = (init: RequestInit & { secret?: string }) =>
  new Request("http://localhost/connect-account", {
    method: "POST",
    ...init,
    headers: init.secret ? { Authorization: `Bearer ${init.secret}` } : {},
  });

Deno.test("connect-account refuses callers and bodies before touching the database", async () => {
  const cases: [Request, number, string][] = [
    [request({ body: "{}" }), 401, "unauthorized"],
    [request({ body: "{}", secret: "wrong-secret-wrong-secret" }), 401, "unauthorized"],
    [request({ body: "{}", secret: CRON_SECRET }), 401, "unauthorized"],
    [request({ method: "GET", secret: SECRET }), 405, "method_not_allowed"],
    [request({ body: "{oops", secret: SECRET }), 400, "invalid_body"],
    [
      request({ body: JSON.stringify({ accessToken: TOKEN }), secret: SECRET }),
      400,
      "invalid_body",
    ],
  ];
  for (const [req, status, error] of cases) {
    const response = await handler(req);
    const text = await response.text();
    assertEquals(response.status, status, text);
    assertEquals(JSON.parse(text).error, error);
    assert(!text.includes(TOKEN));
  }
  const preflight = await handler(new Request("http://localhost/", { method: "OPTIONS" }));
  assertEquals(preflight.status, 204);
});

Deno.test("connect-account needs a secret of its own: at least 32 bytes, not the cron secret", () => {
  const problem = (env: Record<string, string>) => {
    try {
      loadConnectAccountConfig(env);
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  };
  assertMatch(problem({}), /CONNECT_ACCOUNT_SECRET is required/);
  assertMatch(problem({ CONNECT_ACCOUNT_SECRET: "x".repeat(31) }), /at least 32 bytes/);
  assertMatch(
    problem({ CONNECT_ACCOUNT_SECRET: "c".repeat(40), CRON_SECRET: "c".repeat(40) }),
    /must differ from CRON_SECRET/,
  );
  assert(!problem({ CONNECT_ACCOUNT_SECRET: "c".repeat(40) }).includes("c".repeat(40)));
  assertEquals(
    loadConnectAccountConfig({ CONNECT_ACCOUNT_SECRET: SECRET, CRON_SECRET }),
    { CONNECT_ACCOUNT_SECRET: SECRET },
  );
});

Deno.test("the operator command accepts a project URL or a functions URL", () => {
  assertEquals(functionsBaseUrl("https://abc.supabase.co"), "https://abc.supabase.co/functions/v1");
  assertEquals(
    functionsBaseUrl("https://abc.supabase.co/"),
    "https://abc.supabase.co/functions/v1",
  );
  assertEquals(
    functionsBaseUrl("http://127.0.0.1:54321/functions/v1"),
    "http://127.0.0.1:54321/functions/v1",
  );
});
