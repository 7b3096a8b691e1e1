/**
 * `npm run alert -- --test`: sends a test message through the alert path the database uses
 * (send_test_alert: the outbox, pg_net, the Vault secret `alert_webhook_url`) and waits for the
 * webhook's answer, so an operator knows alerts reach the channel before they are needed.
 *
 * Exit status: 0 delivered, 1 not delivered (the reason is printed), 2 usage error.
 */
import {
  type Command,
  EXIT_FAILED,
  EXIT_OK,
  exitWith,
  parseCli,
  secondsFlag,
  UsageError,
} from "./lib/args.ts";
import { connectDb, describeDbError, localStack, redactUrl } from "./lib/target.ts";

export const ALERT_USAGE = `Usage: npm run alert -- --test [--db-url <url>] [--timeout <seconds>]

Sends a test alert through the database's alert path (Vault secret alert_webhook_url, pg_net)
and waits for the webhook's answer.

  --test               send the test message (required)
  --db-url <url>       the project's database (default: DATABASE_URL, else the local stack)
  --timeout <seconds>  how long to wait for the answer (default 15)
  --help               this text

Exit status: 0 delivered, 1 not delivered, 2 usage error.
Set up on a hosted project (SQL console, once):
  select vault.create_secret('<Slack or Discord incoming webhook URL>', 'alert_webhook_url');`;

interface AlertOptions {
  help: boolean;
  dbUrl?: string;
  timeoutSeconds: number;
}

export function parseAlertArgs(
  args: string[],
  env: Record<string, string | undefined>,
): AlertOptions {
  const values = parseCli(args, {
    test: { type: "boolean" },
    "db-url": { type: "string" },
    timeout: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) return { help: true, timeoutSeconds: 0 };
  if (!values.test) throw new UsageError("Missing --test: the one thing this command does");
  const timeout = values.timeout as string | undefined;
  return {
    help: false,
    dbUrl: (values["db-url"] as string | undefined) ?? env.DATABASE_URL,
    timeoutSeconds: timeout === undefined ? 15 : secondsFlag("--timeout", timeout),
  };
}

interface Delivery {
  state: string;
  last_status_code: number | null;
  last_error: string | null;
}

async function sendTestAlert(options: AlertOptions): Promise<number> {
  const dbUrl = options.dbUrl ??
    (await localStack(["database"], "pass --db-url (or set DATABASE_URL)")).dbUrl;
  const timeoutSeconds = options.timeoutSeconds;
  const sql = connectDb(dbUrl);
  try {
    let messageId: string;
    try {
      const [row] = await sql`select public.send_test_alert()::text as id`;
      messageId = row.id;
    } catch (error) {
      const hint = (error as { hint?: string }).hint;
      console.error(`${describeDbError(error, redactUrl(dbUrl))}${hint ? `\n${hint}` : ""}`);
      return EXIT_FAILED;
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
      return EXIT_OK;
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
    return EXIT_FAILED;
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export const alertCommand: Command<AlertOptions> = {
  name: "alert",
  usage: ALERT_USAGE,
  parse: parseAlertArgs,
  run: sendTestAlert,
};

if (import.meta.main) await exitWith(alertCommand);
