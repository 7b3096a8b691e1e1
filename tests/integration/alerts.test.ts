// Alerts end to end on the local stack: the real scheduled-sync runs against the simulator, the
// database's alert tick, pg_net (the stand-in) and a webhook receiver on 127.0.0.1. An outage
// opens one incident and sends one message, recovery sends one "resolved", a failed delivery
// shows in alert_deliveries and is sent again at the next tick, and no body carries a secret.
import { assert, assertEquals, assertMatch } from "../helpers/assert.ts";
import { startRecorder } from "../helpers/http-recorder.ts";
import { eventually, testDb, testStack } from "../helpers/stack.ts";
import { callSync, runEnded } from "../helpers/sync.ts";
import { simulator } from "../helpers/simulator.ts";
import { newWorkspace } from "../helpers/workspace.ts";
import { cliEnv } from "../helpers/cli.ts";
import { PROJECT_ROOT } from "../../local-stack/stack/config.ts";

Deno.test({
  name: "alerts: an outage sends one message, recovery one resolved, a failed delivery is retried",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const stack = await testStack();
    const sql = await testDb();
    let answerStatus = 200;
    const receiver = startRecorder(() => ({ status: answerStatus }));
    const webhookUrl = `${receiver.url}/hook/T000/B000/not-a-real-secret`;
    // Only this test's accounts are active meanwhile, so the run outcomes are its own.
    const others = await sql`update public.workspace_threads_accounts
      set is_active = false, deactivated_at = now() where is_active returning id`;
    let fault: string | undefined;
    const tick = () => sql`select public.alert_tick()`;
    const run = async () => {
      const reply = await callSync({});
      assertEquals(reply.status, 202, JSON.stringify(reply.body));
      return await runEnded(sql, reply.body.runId, 90_000);
    };
    // The API is down, and its error quotes the caller's bare token (as some upstream errors
    // do), so a leak into a message body would show in the check at the end.
    const outage = async () => {
      fault = (await simulator<{ id: string }>("/faults", {
        body: {
          kind: "error",
          status: 503,
          code: 2,
          message: "(#2) Service temporarily unavailable",
          echoToken: true,
        },
      })).id;
    };
    const recover = async () => {
      await simulator(`/faults/${fault}`, { method: "DELETE" });
      fault = undefined;
    };
    const bodies = () => receiver.requests.map((r) => JSON.parse(r.body));
    try {
      const ws = await newWorkspace(6, 2);
      assertEquals(await run(), "completed");
      // Whatever earlier tests left open ends here, told to nobody (no URL yet).
      await sql`delete from vault.secrets where name = 'alert_webhook_url'`;
      await tick();
      await sql`select vault.create_secret(${webhookUrl}, 'alert_webhook_url')`;
      await tick();

      // The outage: two failed runs, several ticks: one incident, one message.
      await outage();
      assertEquals(await run(), "failed");
      // The upstream error did quote the token (the sync stored it scrubbed).
      const [quoted] = await sql`select count(*)::int as n from public.sync_logs s
        join public.workspace_threads_accounts a on a.id = s.workspace_threads_account_id
        where a.workspace_id = ${ws.workspaceId} and s.error_message like '%access token: [redacted]%'`;
      assert(quoted.n > 0, "the outage's errors quote the token");
      await tick();
      await eventually("the alert", () => receiver.requests.length >= 1 || undefined, 15_000);
      assertEquals(await run(), "failed");
      await tick();
      await tick();
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assertEquals(receiver.requests.length, 1, JSON.stringify(bodies()));
      const [opened] = bodies();
      assertEquals(receiver.requests[0].method, "POST");
      assertEquals(receiver.requests[0].path, "/hook/T000/B000/not-a-real-secret");
      assertEquals(opened.alert.event, "opened");
      assertEquals(opened.alert.kind, "run_failed");
      assertMatch(
        opened.text,
        /^\[ALERT\] Threads Sync: Circuit breaker opened: scheduled_sync run [0-9a-f-]{36} failed/,
      );
      assertEquals(opened.content, opened.text);
      const [incident] = await sql`select occurrences, resolved_at from public.alert_incidents
        where id = ${opened.alert.incident_id}`;
      assertEquals([incident.occurrences, incident.resolved_at], [2, null]);

      // Recovery: one resolved message.
      await recover();
      assertEquals(await run(), "completed");
      await tick();
      await eventually("the resolved message", () => receiver.requests.length >= 2 || undefined);
      await tick();
      await new Promise((resolve) => setTimeout(resolve, 1000));
      assertEquals(receiver.requests.length, 2, JSON.stringify(bodies()));
      const resolved = bodies()[1];
      assertEquals([resolved.alert.event, resolved.alert.incident_id], [
        "resolved",
        opened.alert.incident_id,
      ]);
      assertMatch(
        resolved.text,
        /^\[RESOLVED\] Threads Sync: run failed is over after .* \(2 occurrences\)/,
      );
      const delivered = await sql`select state from public.alert_deliveries
        where incident_id = ${opened.alert.incident_id} order by message_id`;
      assertEquals(delivered.map((d) => d.state), ["delivered", "delivered"]);

      // A failed delivery: visible, then sent again at the next tick.
      answerStatus = 500;
      await outage();
      assertEquals(await run(), "failed");
      await tick();
      await eventually("the first attempt", () => receiver.requests.length >= 3 || undefined);
      const failed = await eventually("the failure to show", async () => {
        const [row] = await sql`select message_id, state, attempts, last_status_code
          from public.alert_deliveries where event = 'opened' order by message_id desc limit 1`;
        return row?.state === "failed" ? row : undefined;
      });
      assertEquals([failed.attempts, failed.last_status_code], [1, 500]);
      answerStatus = 200;
      await tick();
      await eventually("the retry", () => receiver.requests.length >= 4 || undefined);
      assertEquals(bodies()[3], bodies()[2]);
      await eventually("the retry to be delivered", async () => {
        await tick();
        const [row] = await sql`select state, attempts from public.alert_deliveries
          where message_id = ${failed.message_id}`;
        return row.state === "delivered" && row.attempts === 2 ? true : undefined;
      });
      await recover();
      assertEquals(await run(), "completed");
      await tick();
      await eventually("the second resolved", () => receiver.requests.length >= 5 || undefined);
      assertEquals(receiver.requests.length, 5);

      // The test command takes the same path.
      const test = await new Deno.Command(Deno.execPath(), {
        // The local stack found from STACK_* as an operator's shell would.
        args: ["run", "-A", "cli/alert.ts", "--test"],
        cwd: PROJECT_ROOT,
        env: cliEnv(),
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const out = new TextDecoder().decode(test.stdout) + new TextDecoder().decode(test.stderr);
      assertEquals(test.code, 0, out);
      assertMatch(out, /Delivered: the webhook answered 200/);
      assertEquals(bodies()[5].alert.event, "test");

      // No secret in any body: not the webhook URL, the cron or metrics secret, keys or any token.
      const secrets = [
        webhookUrl,
        "not-a-real-secret",
        stack.cronSecret,
        stack.metricsSecret,
        stack.connectAccountSecret,
        stack.tokenEncryptionKey,
        stack.serviceRoleKey,
        stack.anonKey,
        ...ws.accounts.map((a) => a.token),
      ];
      for (const request of receiver.requests) {
        for (const secret of secrets) {
          assert(
            !request.body.includes(secret),
            `a message body carries a secret: ${request.body}`,
          );
        }
      }
    } finally {
      if (fault) await simulator(`/faults/${fault}`, { method: "DELETE" });
      await sql`delete from vault.secrets where name = 'alert_webhook_url'`;
      await tick();
      await sql`update public.workspace_threads_accounts set is_active = true, deactivated_at = null
        where id = any(${others.map((o) => o.id)}::uuid[])`;
      await receiver.close();
      await sql.end();
    }
  },
});
