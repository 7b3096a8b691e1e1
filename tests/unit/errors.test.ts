// Error classification: the Graph code decides, the HTTP status is only a fallback, and what
// reaches sync_logs is a non-empty code and a message that names the call and never a token.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import {
  classifyGraphError,
  classifyHttpStatus,
  rateLimitScope,
} from "../../supabase/functions/_shared/threads/error-kinds.ts";
import {
  errorFromAnswer,
  ThreadsApiError,
} from "../../supabase/functions/_shared/threads/errors.ts";
import { toSyncLogError } from "../../supabase/functions/_shared/jobs/sync-log-error.ts";

Deno.test("Graph codes map to kinds whatever the HTTP status", () => {
  const cases: [number, number | undefined, number, string][] = [
    [190, 463, 400, "auth_expired"],
    [190, 460, 400, "auth_expired"],
    [190, undefined, 400, "auth_expired"],
    [102, undefined, 400, "auth_expired"],
    [10, 4279067, 400, "permission"],
    [200, undefined, 403, "permission"],
    [299, undefined, 400, "permission"],
    [4, undefined, 400, "rate_limited"],
    [17, undefined, 400, "rate_limited"],
    [32, undefined, 400, "rate_limited"],
    [613, undefined, 429, "rate_limited"],
    [341, undefined, 400, "rate_limited"],
    [1, undefined, 400, "transient"],
    [2, undefined, 500, "transient"],
    [100, 33, 400, "not_found"],
    [100, undefined, 400, "permanent"],
    [24, 4279009, 400, "permanent"],
    // An unknown code on a server error is still worth another attempt.
    [9999, undefined, 503, "transient"],
  ];
  for (const [code, subcode, status, kind] of cases) {
    assertEquals(classifyGraphError(code, subcode, status), kind, `code ${code}/${subcode}`);
  }
});

Deno.test("without a Graph body the HTTP status decides", () => {
  assertEquals(classifyHttpStatus(429), "rate_limited");
  assertEquals(classifyHttpStatus(502), "transient");
  assertEquals(classifyHttpStatus(401), "auth_expired");
  assertEquals(classifyHttpStatus(403), "permission");
  assertEquals(classifyHttpStatus(404), "not_found");
  assertEquals(classifyHttpStatus(400), "permanent");
});

Deno.test("app-level rate limits (4, 341, a bare 429) are the app's; 17, 32 and 613 one account's", () => {
  assertEquals([4, 341, undefined].map(rateLimitScope), ["app", "app", "app"]);
  assertEquals([17, 32, 613].map(rateLimitScope), ["account", "account", "account"]);
  const answer = (code: number) => ({
    endpoint: "GET /me",
    action: "read the account's profile",
    status: 400,
    json: { error: { code, message: "limit" } },
    defaultWaitMs: { app: 2_000, account: 60_000 },
  });
  // No named wait: the app's budget comes back after the cool-down, an account's in a minute.
  assertEquals(errorFromAnswer(answer(4))?.retryAfterMs, 2_000);
  assertEquals(errorFromAnswer(answer(613))?.retryAfterMs, 60_000);
  // A named wait is the API's word, whatever the scope.
  assertEquals(errorFromAnswer({ ...answer(4), retryAfterMs: 30_000 })?.retryAfterMs, 30_000);
});

Deno.test("an error message says what could not be done, why, and the codes", () => {
  const error = new ThreadsApiError({
    kind: "auth_expired",
    endpoint: "GET /v1.0/me/threads",
    action: "list the account's threads",
    status: 400,
    code: 190,
    subcode: 463,
    fbtraceId: "AbC123",
  });
  assertEquals(
    error.message,
    "Cannot list the account's threads (GET /v1.0/me/threads) as the access token has expired: " +
      "Graph code 190/463, HTTP 400",
  );
  assertEquals(error.retryable, false);
  const later = error.afterAttempts(4);
  assertMatch(later.message, /after 4 attempts$/);
  assertEquals(later.fbtraceId, "AbC123");
  assertEquals(later.kind, "auth_expired");
});

Deno.test("toSyncLogError gives a non-empty code and message for anything thrown", () => {
  const api = toSyncLogError(
    new ThreadsApiError({
      kind: "rate_limited",
      endpoint: "GET /v1.0/me/threads_insights",
      action: "read the account's insights",
      code: 17,
      retryAfterMs: 3_600_000,
      graphMessage: "(#17) User request limit reached",
    }),
    { step: "sync_account_insights", account: "acct-1" },
  );
  assertEquals(api.code, "rate_limited");
  assertMatch(api.message, /^\[step sync_account_insights, account acct-1\] Cannot read/);
  assertMatch(api.message, /retry after 3600000 ms/);
  assertMatch(api.message, /Threads said: \(#17\) User request limit reached/);

  for (const thrown of [new Error(""), undefined, "", null, { weird: true }]) {
    const row = toSyncLogError(thrown);
    assert(row.code.trim() !== "" && row.message.trim() !== "", JSON.stringify(row));
  }
  assertEquals(toSyncLogError(new TypeError("boom")).code, "internal_error");
});

Deno.test("a token inside anything that reaches an error is redacted", () => {
  const token = "THQVJsecret123";
  const error = new ThreadsApiError({
    kind: "transient",
    endpoint: "GET /v1.0/me",
    action: "read the account's profile",
    reason: `the request failed for https://x/me?access_token=${token}&a=1`,
    graphMessage: `bad access_token=${token}`,
  });
  assert(!error.message.includes(token), error.message);
  assert(!JSON.stringify({ ...error }).includes(token));
  assert(!toSyncLogError(new Error(`oops access_token=${token}`)).message.includes(token));
});
