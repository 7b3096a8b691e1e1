/**
 * The stack's background processes, each started once and found again by its pid file
 * (`.stack/<name>/<component>.pid`, logging to `logs/<component>.log`): the pg_net stand-in's
 * delivery worker and the Threads API simulator (unless THREADS_API_BASE_URL points
 * elsewhere). The functions host is functions-service.ts.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { livePid, portIsFree, spawnDetached, waitFor } from "./process.ts";
import { dbUrl, PROJECT_ROOT, type StackConfig } from "./config.ts";

const SIMULATOR_CLI = join(PROJECT_ROOT, "local-stack", "simulator", "cli.ts");

export const pidFile = (config: StackConfig, component: string) =>
  join(config.dir, `${component}.pid`);
export const logFile = (config: StackConfig, component: string) =>
  join(config.dir, "logs", `${component}.log`);

function simulatorUrl(config: StackConfig): string {
  return `http://127.0.0.1:${config.simulatorPort}/v1.0`;
}

/** Where the functions call the Threads API: the configured URL, else the simulator. */
export function threadsApiBaseUrl(config: StackConfig): string {
  return config.threadsApiBaseUrl ?? simulatorUrl(config);
}

export async function startSimulator(config: StackConfig): Promise<void> {
  if (config.threadsApiBaseUrl || !existsSync(SIMULATOR_CLI)) return;
  if (livePid(pidFile(config, "simulator"))) return;
  if (!portIsFree(config.simulatorPort)) {
    throw new Error(
      `Cannot start the Threads API simulator as port ${config.simulatorPort} is in use.\n` +
        `Choose another port: STACK_SIMULATOR_PORT=<port> npm run stack -- up`,
    );
  }
  spawnDetached(Deno.execPath(), [
    "run",
    "-A",
    SIMULATOR_CLI,
    "--port",
    String(config.simulatorPort),
    "--state-file",
    join(config.dir, "simulator-state.json"),
  ], {
    logFile: logFile(config, "simulator"),
    pidFile: pidFile(config, "simulator"),
    env: Deno.env.toObject(),
    cwd: PROJECT_ROOT,
  });
  await waitFor("the simulator to listen", () => !portIsFree(config.simulatorPort), 20_000);
}

export function startPgNetWorker(config: StackConfig): void {
  if (livePid(pidFile(config, "pg-net"))) return;
  spawnDetached(Deno.execPath(), [
    "run",
    "-A",
    join(PROJECT_ROOT, "local-stack", "pg-net", "worker.ts"),
    dbUrl(config),
  ], {
    logFile: logFile(config, "pg-net"),
    pidFile: pidFile(config, "pg-net"),
    env: Deno.env.toObject(),
    cwd: PROJECT_ROOT,
  });
}
