/**
 * `npm start`: brings the local stack up, proves the pg_net -> functions chain with a live
 * call, prints where everything is, and keeps the stack (and pg_cron's schedule) running
 * until Ctrl-C, which stops it (the data is kept).
 */
import postgres from "postgres";
import { stackConfigFromEnv } from "./stack-config.ts";
import { down, type StackStatus, up } from "./stack.ts";

async function proveChain(stack: StackStatus): Promise<string> {
  const sql = postgres(stack.dbUrl, { max: 1, onnotice: () => {} });
  try {
    const [{ id }] = await sql`select public.trigger_edge_function('health')::text as id`;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const [row] =
        await sql`select status_code, error_msg, content from net._http_response where id = ${id}`;
      if (row) {
        if (row.status_code !== 200) {
          throw new Error(
            `health answered ${row.status_code ?? row.error_msg}: ${row.content ?? ""}`,
          );
        }
        return `pg_net request ${id} -> health: 200 ${row.content}`;
      }
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    throw new Error("pg_net delivered nothing within 30 s: see .stack/<name>/logs/pg-net.log");
  } finally {
    await sql.end();
  }
}

const config = stackConfigFromEnv();
try {
  const stack = await up(config, Deno.env.toObject(), (step) => console.log(`starting ${step}...`));
  console.log(`\n${await proveChain(stack)}\n`);
  console.log(`Database   ${stack.dbUrl}`);
  console.log(`Functions  ${stack.functionsUrl}`);
  console.log(`Threads    ${stack.threadsApiBaseUrl}`);
  console.log(`Logs       ${stack.logsDir}`);
  console.log(`\npg_cron's schedule runs while this stays open. Ctrl-C stops the stack.`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}

const stop = async () => {
  console.log("\nStopping the stack (data kept; `npm run stack -- wipe` deletes it)...");
  await down(config);
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
// Keep the process alive until a signal arrives.
setInterval(() => {}, 1 << 30);
