/**
 * `npm run alert -- --test`: sends a test message through the alert path the database uses
 * (send_test_alert: the outbox, pg_net, the Vault secret `alert_webhook_url`) and waits for the
 * webhook's answer, so an operator knows alerts reach the channel before they are needed.
 *
 * Exit status: 0 delivered, 1 not delivered (the reason is printed), 2 usage error.
 */
import { parseArgs } from "node:util";
import postgres from "postgres";
import { stackConfigFromEnv } from "../local-stack/stack-config.ts";
import { status } from "../local-stack/stack.ts";

const HELP = `Usage: npm run alert -- --test [--db-url <url>] [--timeout <seconds>]

Sends a test alert through the database's alert path (Vault secret alert_webhook_url, pg_net)
and waits for the webhook's answer.

  --test               send the test message (required)
  --db-url <url>       the project's database (default: DATABASE_URL, else the local stack)
  --timeout <seconds>  how long to wait for the answer (default 15)
  --help               this text

Exit status: 0 delivered, 1 not delivered, 2 usage error.
Set up on a hosted project (SQL console, once):
  select vault.create_secret('<Slack or Discord incoming webhook URL>', 'alert_webhook_url');`;

interface Delivery {
  state: string;
  last_status_code: number | null;
  last_error: string | null;
}

async function databaseUrl(given: string | undefined): Promise<string> {
  if (given) return given;
  const fromEnv = Deno.env.get("DATABASE_URL");
  if (fromEnv) return fromEnv;
  const stack = await status(stackConfigFromEnv());
  if (stack.services.database !== "running") {
    throw new Error(
      `Cannot reach the local stack "${stack.name}" as its database is not running: start it with \`npm run stack -- up\`, or pass --db-url`,
    );
  }
  return stack.dbUrl;
}

async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        test: { type: "boolean" },
        "db-url": { type: "string" },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const timeoutSeconds = Number(values.timeout ?? "15");
  if (!values.test || !(timeoutSeconds > 0)) {
    console.error(
      `${
        values.test ? "--timeout must be a positive number of seconds" : "Missing --test"
      }\n\n${HELP}`,
    );
    return 2;
  }

  const sql = postgres(await databaseUrl(values["db-url"]), {
    max: 1,
    prepare: false,
    onnotice: () => {},
    connect_timeout: 10,
    connection: { application_name: "threads-sync-cli" },
  });
  try {
    let messageId: string;
    try {
      const [row] = await sql`select public.send_test_alert()::text as id`;
      messageId = row.id;
    } catch (error) {
      const e = error as { code?: string; message?: string; hint?: string };
      console.error(`${e.message ?? String(error)}${e.hint ? `\n${e.hint}` : ""}`);
      return 1;
    }
    console.log(`Test alert ${messageId} sent; waiting for the webhook's answer...`);
    const deadline = Date.now() + timeoutSeconds * 1000;
    let delivery: Delivery | undefined;
    while (Date.now() < deadline) {
      [delivery] = await sql<Delivery[]>`
        select state, last_status_code, last_error from public.alert_deliveries
        where message_id = ${messageId}`;
      if (delivery && delivery.state !== "sending" && delivery.state !== "queued") break;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    if (delivery?.state === "delivered") {
      console.log(`Delivered: the webhook answered ${delivery.last_status_code}.`);
      return 0;
    }
    console.error(
      delivery?.state === "failed"
        ? `Not delivered: ${
          delivery.last_error ?? `HTTP ${delivery.last_status_code}`
        } (the next alert tick sends it again; see: select * from alert_deliveries where state = 'failed')`
        : `No answer within ${timeoutSeconds} s (state: ${
          delivery?.state ?? "unknown"
        }); see: select * from alert_deliveries where message_id = ${messageId}`,
    );
    return 1;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    console.error((error as Error).message);
    Deno.exit(1);
  }
}
