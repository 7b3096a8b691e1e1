// `npm run stack -- up` copies the monitoring settings of its environment into the database,
// as an operator sets them on a hosted project: the freshness target and alert threshold into
// monitoring_settings, the webhook URL into Vault.
import { assertEquals, assertMatch, assertRejects } from "../helpers/assert.ts";
import { testDb, testStackEnv } from "../helpers/stack.ts";
import { stackConfigFromEnv } from "../../local-stack/stack/config.ts";
import { applyMonitoringSettings } from "../../local-stack/stack/stack.ts";

Deno.test({
  name: "the local stack passes SYNC_FRESHNESS_TARGET_MINUTES, ALERT_* through to the database",
  sanitizeResources: false,
  fn: async () => {
    const sql = await testDb();
    const config = stackConfigFromEnv(testStackEnv());
    try {
      await applyMonitoringSettings(config, {
        SYNC_FRESHNESS_TARGET_MINUTES: "20",
        ALERT_FRESHNESS_MIN_SHARE: "0.9",
        ALERT_WEBHOOK_URL: "http://127.0.0.1:9/hook",
      });
      const [settings] = await sql`select sync_freshness_target_minutes as target,
        alert_freshness_min_share::text as share from public.monitoring_settings`;
      assertEquals([settings.target, settings.share], [20, "0.9"]);
      const [view] = await sql`select target_minutes from public.sync_freshness
        where scope = 'overall'`;
      assertEquals(view.target_minutes, 20);
      const [secret] = await sql`select decrypted_secret from vault.decrypted_secrets
        where name = 'alert_webhook_url'`;
      assertEquals(secret.decrypted_secret, "http://127.0.0.1:9/hook");

      const badTarget = await assertRejects(() =>
        applyMonitoringSettings(config, { SYNC_FRESHNESS_TARGET_MINUTES: "half an hour" })
      );
      assertMatch(badTarget.message, /SYNC_FRESHNESS_TARGET_MINUTES must be a whole number/);
      const badUrl = await assertRejects(() =>
        applyMonitoringSettings(config, { ALERT_WEBHOOK_URL: "hooks.example'; drop" })
      );
      assertEquals(
        badUrl.message,
        "ALERT_WEBHOOK_URL must be an http(s) URL (or empty to turn alerts off)",
      );
      // Empty turns alerts off.
      await applyMonitoringSettings(config, { ALERT_WEBHOOK_URL: "" });
      const gone = await sql`select 1 from vault.secrets where name = 'alert_webhook_url'`;
      assertEquals(gone.length, 0);
    } finally {
      await applyMonitoringSettings(config, {
        SYNC_FRESHNESS_TARGET_MINUTES: "30",
        ALERT_FRESHNESS_MIN_SHARE: "0.95",
        ALERT_WEBHOOK_URL: "",
      });
      await sql.end();
    }
  },
});
