/**
 * npm run stack -- <up|down|status|wipe> [--json]
 *
 *   up       start the local stack in the background (idempotent) and print its URLs and keys
 *   down     stop every process it started; the data is kept
 *   status   what runs, URLs and keys; --json prints one JSON object for scripts
 *   wipe     stop and delete the stack's data, logs and secrets
 *
 * Environment: STACK_NAME (dev), STACK_DB_PORT (54322), STACK_FUNCTIONS_PORT (54321),
 * STACK_SIMULATOR_PORT (54329), FUNCTIONS_WALL_CLOCK_LIMIT_MS (150000), FUNCTIONS_CPU_LIMIT_MS
 * (2000), FUNCTIONS_MEMORY_LIMIT_MB (256), THREADS_API_BASE_URL,
 * and the function variables (CRON_SECRET, CONNECT_ACCOUNT_SECRET, METRICS_SECRET, SYNC_*, THREADS_*) passed
 * through to the functions.
 */
import { stackConfigFromEnv } from "./stack/config.ts";
import { down, type StackStatus, status, up, wipe } from "./stack/stack.ts";

function printStatus(s: StackStatus) {
  const rows: [string, string][] = [
    ["Stack", s.name],
    ["Database", `${s.dbUrl} (${s.services.database})`],
    ["Functions", `${s.functionsUrl} (${s.services.functions})`],
    ["pg_net worker", s.services.pgNet],
    ["Threads API", `${s.threadsApiBaseUrl} (${s.services.simulator})`],
    ["Wall-clock limit", `${s.wallClockLimitMs} ms`],
    ["CPU limit", `${s.cpuLimitMs} ms`],
    ["Memory limit", `${s.memoryLimitMb} MB`],
    ["Cron secret", s.cronSecret],
    ["Connect-account secret", s.connectAccountSecret],
    ["Metrics secret", s.metricsSecret],
    ["Anon key", s.anonKey],
    ["Service role key", s.serviceRoleKey],
    ["Logs", s.logsDir],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`${k.padEnd(width)}  ${v}`);
}

const [command, ...flags] = Deno.args;
const json = flags.includes("--json");
try {
  const config = stackConfigFromEnv();
  switch (command) {
    case "up": {
      const s = await up(config, Deno.env.toObject(), (step) => {
        if (!json) console.error(`starting ${step}...`);
      });
      if (json) console.log(JSON.stringify(s));
      else printStatus(s);
      break;
    }
    case "down":
      await down(config);
      if (!json) console.log(`Stopped stack "${config.name}" (data kept; "wipe" deletes it).`);
      break;
    case "status": {
      const s = await status(config);
      if (json) console.log(JSON.stringify(s));
      else printStatus(s);
      break;
    }
    case "wipe":
      await wipe(config);
      console.log(`Wiped stack "${config.name}".`);
      break;
    default:
      console.error("usage: npm run stack -- <up|down|status|wipe> [--json]");
      Deno.exit(2);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
