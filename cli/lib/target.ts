/**
 * Where the operator commands point: the local stack by default (its database, functions URL,
 * cron secret and anon key, read like `npm run stack -- status` does), or a database and a
 * project given on the command line. Connection strings are shown with the password hidden.
 */
import postgres from "postgres";
import { stackConfigFromEnv } from "../../local-stack/stack/config.ts";
import { type StackStatus, status } from "../../local-stack/stack/stack.ts";

/** `postgresql://user:***@host:port/db`: safe to print. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return "<the given URL>";
  }
}

/**
 * The local stack (STACK_NAME, default `dev`), which must have `needs` running; otherwise an
 * error that says how to start it or where else to point.
 */
export async function localStack(
  needs: ("database" | "functions")[],
  alternative: string,
): Promise<StackStatus> {
  const config = stackConfigFromEnv();
  const stack = await status(config);
  const stopped = needs.filter((service) => stack.services[service] !== "running");
  if (stopped.length > 0) {
    throw new Error(
      `Cannot reach the local stack "${config.name}" as its ${stopped.join(" and ")} ${
        stopped.length > 1 ? "are" : "is"
      } not running: start it with \`npm run stack -- up\`, or ${alternative}`,
    );
  }
  return stack;
}

/** A small, read-mostly client: the commands send a few short queries. */
export function connectDb(dbUrl: string): postgres.Sql {
  return postgres(dbUrl, {
    max: 2,
    prepare: false,
    onnotice: () => {},
    connect_timeout: 10,
    idle_timeout: 20,
    connection: { application_name: "threads-sync-cli" },
  });
}

/** A database failure in words an operator can act on, without the connection string. */
export function describeDbError(error: unknown, where: string): string {
  const e = error as { code?: string; message?: string };
  const reason = e?.message ?? String(error);
  if (e?.code === "ECONNREFUSED" || e?.code === "CONNECT_TIMEOUT" || e?.code === "ENOTFOUND") {
    return `Cannot connect to the database ${where} as it did not answer (${e.code}): check the URL and that it runs`;
  }
  if (e?.code === "28P01" || e?.code === "28000") {
    return `Cannot connect to the database ${where} as it refused the credentials: ${reason}`;
  }
  if (e?.code === "42P01" || e?.code === "42883") {
    return `Cannot read the database ${where} as the project's schema is missing (${reason}): apply the migrations (supabase db push)`;
  }
  return `Cannot query the database ${where}: ${reason}`;
}
