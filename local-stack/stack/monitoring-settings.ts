/**
 * The monitoring settings of the stack: what an operator sets once on a hosted project, copied
 * from `npm run stack -- up`'s environment.
 */
import { psql } from "./cluster.ts";
import type { StackConfig } from "./config.ts";

/**
 * Copies the monitoring settings of `up`'s environment into the database, as an operator does
 * on a hosted project (the database cannot read the functions' variables):
 * SYNC_FRESHNESS_TARGET_MINUTES and ALERT_FRESHNESS_MIN_SHARE into monitoring_settings,
 * ALERT_WEBHOOK_URL into the Vault secret `alert_webhook_url` (empty: alerts off). Unset leaves
 * each as it is, as `supabase secrets set` leaves unnamed secrets alone.
 */
export async function applyMonitoringSettings(
  config: StackConfig,
  env: Record<string, string>,
): Promise<void> {
  const statements: string[] = [];
  const target = env.SYNC_FRESHNESS_TARGET_MINUTES;
  if (target !== undefined && target !== "") {
    if (!/^[0-9]+$/.test(target) || Number(target) < 1 || Number(target) > 10080) {
      throw new Error(
        `SYNC_FRESHNESS_TARGET_MINUTES must be a whole number of minutes from 1 to 10080: current value is ${
          JSON.stringify(target)
        }`,
      );
    }
    statements.push(
      `update public.monitoring_settings set sync_freshness_target_minutes = ${
        Number(target)
      }, updated_at = now();`,
    );
  }
  const share = env.ALERT_FRESHNESS_MIN_SHARE;
  if (share !== undefined && share !== "") {
    if (!/^(0(\.[0-9]+)?|1(\.0+)?)$/.test(share)) {
      throw new Error(
        `ALERT_FRESHNESS_MIN_SHARE must be a number from 0 to 1: current value is ${
          JSON.stringify(share)
        }`,
      );
    }
    statements.push(
      `update public.monitoring_settings set alert_freshness_min_share = ${share}, updated_at = now();`,
    );
  }
  const webhook = env.ALERT_WEBHOOK_URL;
  if (webhook !== undefined) {
    if (webhook !== "" && !/^https?:\/\/[^\s']+$/.test(webhook)) {
      throw new Error(
        "ALERT_WEBHOOK_URL must be an http(s) URL (or empty to turn alerts off)",
      );
    }
    // Checked above to hold no quote or space, so it can sit in a literal.
    statements.push(
      webhook === "" ? `delete from vault.secrets where name = 'alert_webhook_url';` : `select case
             when exists (select 1 from vault.secrets where name = 'alert_webhook_url')
             then (select vault.update_secret(id, '${webhook}') from vault.secrets where name = 'alert_webhook_url')::text
             else vault.create_secret('${webhook}', 'alert_webhook_url')::text
           end;`,
    );
  }
  if (statements.length > 0) await psql(config, statements.join("\n"));
}
