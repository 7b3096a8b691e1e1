// Structured logs: one JSON object per line with the scoped fields, and never a token.
import { assert, assertEquals } from "../helpers/assert.ts";
import { createLogger } from "../../supabase/functions/_shared/platform/log.ts";

Deno.test("a scoped logger writes one JSON line per event with its fields", () => {
  const lines: string[] = [];
  const log = createLogger(
    { run_id: "r1", job_type: "scheduled_sync" },
    (_l, line) => lines.push(line),
  );
  log.child({ account_id: "a1" }).info("account_finished", {
    outcome: "completed",
    duration_ms: 12,
  });
  assertEquals(lines.length, 1);
  const record = JSON.parse(lines[0]);
  assertEquals(record.event, "account_finished");
  assertEquals(record.run_id, "r1");
  assertEquals(record.account_id, "a1");
  assertEquals(record.outcome, "completed");
  assertEquals(record.level, "info");
});

Deno.test("logs drop token fields and redact tokens inside text", () => {
  const token = "THQVJsecret" + crypto.randomUUID();
  const lines: string[] = [];
  const log = createLogger({}, (_l, line) => lines.push(line));
  log.error("call_failed", {
    access_token: token,
    url: `https://graph.threads.net/v1.0/me/threads?after=x&access_token=${token}&limit=25`,
    header: `Bearer ${token}`,
    nested: { refresh_token: token, list: [`access_token=${token}`] },
    error: new Error(`failed for access_token=${token}`),
    token_expires_at: "2026-12-01T00:00:00Z",
  });
  assert(!lines[0].includes(token), lines[0]);
  const record = JSON.parse(lines[0]);
  assertEquals(
    record.url,
    "https://graph.threads.net/v1.0/me/threads?after=x&access_token=[redacted]&limit=25",
  );
  assertEquals(record.token_expires_at, "2026-12-01T00:00:00Z");
});
