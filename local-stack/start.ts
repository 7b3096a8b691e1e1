/**
 * `npm start`: the product on this machine. Brings the local stack up (database, pg_net,
 * Threads API simulator, functions host), connects the simulator's demo accounts, runs one
 * sync at once with live progress and a summary, and keeps pg_cron's 15-minute schedule
 * running until Ctrl-C, which stops the stack (the data is kept).
 *
 * With THREADS_API_BASE_URL set, no simulator is started and no demo account is connected:
 * connect real accounts first.
 */
import postgres from "postgres";
import { renderTable } from "../cli/lib/table.ts";
import { stackConfigFromEnv } from "./stack/config.ts";
import { down, type StackStatus, up } from "./stack/stack.ts";
import { connectAccounts, simulatorAccounts } from "./stack/demo-accounts.ts";

const interactive = Deno.stdout.isTerminal();

function bar(done: number, total: number, width = 30): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
}

/** Starts a sync through the real function and follows it in the database until it ends. */
async function syncNow(stack: StackStatus, sql: postgres.Sql): Promise<string> {
  const response = await fetch(`${stack.functionsUrl}/scheduled-sync`, {
    method: "POST",
    headers: { Authorization: `Bearer ${stack.cronSecret}`, "Content-Type": "application/json" },
    body: "{}",
  });
  const reply = await response.json();
  if (response.status !== 202) {
    throw new Error(`scheduled-sync answered ${response.status}: ${JSON.stringify(reply)}`);
  }
  const runId: string = reply.runId;
  console.log(
    `Run ${runId} started (scheduled-sync answered 202; the run goes on in the background)`,
  );
  let last = "";
  while (true) {
    const [run] = await sql`select status from public.system_job_logs where id = ${runId}`;
    const [p] = await sql`select * from public.run_progress(${runId})`;
    const done = p.completed + p.partial + p.failed + p.skipped;
    const line = `${bar(done, p.total)} ${done}/${p.total} accounts, ${
      p.partial + p.failed + p.skipped
    } not fully synced`;
    if (line !== last) {
      if (interactive) Deno.stdout.writeSync(new TextEncoder().encode(`\r${line}`));
      else console.log(line);
      last = line;
    }
    if (run.status !== "running") {
      if (interactive) console.log();
      return runId;
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function printSummary(sql: postgres.Sql, runId: string) {
  const [run] = await sql`select status, duration, accounts_total, accounts_ok, accounts_partial,
    accounts_failed, accounts_skipped, api_calls, error_message
    from public.sync_run_overview where id = ${runId}`;
  console.log(
    `\nRun ${run.status}: ${run.accounts_ok}/${run.accounts_total} accounts synced` +
      ` (${run.accounts_partial} partial, ${run.accounts_failed} failed, ${run.accounts_skipped} skipped),` +
      ` ${run.api_calls ?? 0} API calls, ${run.duration}${
        run.error_message ? `\n  ${run.error_message}` : ""
      }`,
  );
  const rows = await sql`select a.username, ra.status,
      (select count(*) from public.workspace_threads_posts p where p.workspace_threads_account_id = a.id) as posts,
      a.current_followers_count as followers, coalesce(ra.last_error_code, '') as error
    from public.sync_run_accounts ra
    join public.workspace_threads_accounts a on a.id = ra.workspace_threads_account_id
    where ra.run_id = ${runId} order by a.username`;
  console.log(renderTable(
    [
      { header: "account" },
      { header: "status" },
      { header: "posts", align: "right" },
      { header: "followers", align: "right" },
      { header: "error" },
    ],
    rows.map((r) => [`@${r.username}`, r.status, r.posts, r.followers ?? "-", r.error]),
  ));
}

const config = stackConfigFromEnv();
let sql: postgres.Sql | undefined;
try {
  const stack = await up(config, Deno.env.toObject(), (step) => console.log(`starting ${step}...`));
  sql = postgres(stack.dbUrl, { max: 2, onnotice: () => {} });
  if (!config.threadsApiBaseUrl) {
    const accounts = await simulatorAccounts(stack.threadsApiBaseUrl);
    await connectAccounts(stack.dbUrl, stack.tokenEncryptionKey, accounts);
    console.log(`Connected ${accounts.length} demo accounts of the Threads API simulator`);
  }
  console.log();
  const runId = await syncNow(stack, sql);
  await printSummary(sql, runId);
  console.log(`
Database   ${stack.dbUrl}
Functions  ${stack.functionsUrl}
Threads    ${stack.threadsApiBaseUrl}
Logs       ${stack.logsDir}

pg_cron runs scheduled-sync at minutes 0, 15, 30 and 45 while this stays open.
In another terminal: psql ${stack.dbUrl} -c 'select * from sync_run_overview limit 5'
Ctrl-C stops the stack.`);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  await sql?.end();
  Deno.exit(1);
}

const stop = async () => {
  console.log("\nStopping the stack (data kept; `npm run stack -- wipe` deletes it)...");
  await sql?.end();
  await down(config);
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
// Keep the process alive until a signal arrives.
setInterval(() => {}, 1 << 30);
