/**
 * The stack's functions host (functions-host/host.ts) as a background process: the settings
 * it runs with (folders, limits, the platform's variables and the function secrets), written
 * to `functions-host.json` so tests and benchmarks can start a host of their own that behaves
 * the same, and a restart when those settings changed.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { livePid, portIsFree, spawnDetached, stopPidFile, waitFor } from "./process.ts";
import { dbUrl, PROJECT_ROOT, type StackConfig } from "./config.ts";
import type { StackSecrets } from "./secrets.ts";
import { logFile, pidFile, threadsApiBaseUrl } from "./services.ts";
import { readDotEnv } from "../functions-host/function-config.ts";
import type { HostOptions } from "../functions-host/host.ts";

/** Variables of the `up` environment handed to the functions, as `supabase secrets set` would. */
const PASSTHROUGH =
  /^(SYNC_|THREADS_|TOKEN_|CRON_SECRET$|CONNECT_ACCOUNT_SECRET$|METRICS_SECRET$|LOG_)/;

function functionEnv(config: StackConfig, secrets: StackSecrets, env: Record<string, string>) {
  const passthrough = Object.fromEntries(Object.entries(env).filter(([k]) => PASSTHROUGH.test(k)));
  return {
    // What any process needs to run Deno and find its module cache.
    PATH: env.PATH ?? "/usr/bin:/bin",
    HOME: env.HOME ?? "/root",
    ...(env.DENO_DIR ? { DENO_DIR: env.DENO_DIR } : {}),
    // The platform's variables.
    SUPABASE_URL: `http://127.0.0.1:${config.functionsPort}`,
    SUPABASE_DB_URL: dbUrl(config),
    SUPABASE_ANON_KEY: secrets.anonKey,
    SUPABASE_SERVICE_ROLE_KEY: secrets.serviceRoleKey,
    // Function secrets: defaults of this stack, then supabase/functions/.env, then `up`'s env.
    CRON_SECRET: secrets.cronSecret,
    CONNECT_ACCOUNT_SECRET: secrets.connectAccountSecret,
    METRICS_SECRET: secrets.metricsSecret,
    TOKEN_ENCRYPTION_KEY: secrets.tokenEncryptionKey,
    THREADS_API_BASE_URL: threadsApiBaseUrl(config),
    // What the platform's limit is here, so a budget above it is refused at boot.
    SYNC_WALL_CLOCK_LIMIT_MS: String(config.wallClockLimitMs),
    ...readDotEnv(join(PROJECT_ROOT, "supabase", "functions", ".env")),
    ...passthrough,
  };
}

/**
 * The settings the stack's functions host runs with (platform variables, secrets, folders),
 * so tests and benchmarks can start a host of their own that behaves the same.
 */
export function readHostOptions(stackDir: string): HostOptions {
  const file = join(stackDir, "functions-host.json");
  if (!existsSync(file)) {
    throw new Error(
      `Cannot read the functions host's settings as ${file} is missing: run \`npm run stack -- up\``,
    );
  }
  const options = JSON.parse(Deno.readTextFileSync(file)) as HostOptions;
  // A stack started before the host had CPU and memory limits: a host built from these
  // settings would run without them, and every test under it would pass where hosted fails.
  if (!(options.cpuLimitMs > 0 && options.memoryLimitMb > 0)) {
    throw new Error(
      `Cannot read the functions host's limits from ${file}: run \`npm run stack -- up\` again`,
    );
  }
  return options;
}

/** Starts the functions host, or restarts it when its settings changed since it started. */
export async function startFunctionsHost(
  config: StackConfig,
  secrets: StackSecrets,
  env: Record<string, string>,
): Promise<void> {
  const options: HostOptions = {
    port: config.functionsPort,
    functionsDirs: [join(PROJECT_ROOT, "supabase", "functions"), ...config.extraFunctionsDirs],
    wallClockLimitMs: config.wallClockLimitMs,
    cpuLimitMs: config.cpuLimitMs,
    memoryLimitMb: config.memoryLimitMb,
    functionEnv: functionEnv(config, secrets, env),
    jwtSecret: secrets.jwtSecret,
  };
  const optionsFile = join(config.dir, "functions-host.json");
  const serialized = JSON.stringify(options, null, 2);
  const running = livePid(pidFile(config, "functions"));
  if (running && existsSync(optionsFile) && Deno.readTextFileSync(optionsFile) === serialized) {
    return;
  }
  if (running) await stopPidFile(pidFile(config, "functions"));
  if (!portIsFree(config.functionsPort)) {
    throw new Error(
      `Cannot start the functions host as port ${config.functionsPort} on 127.0.0.1 is in use.\n` +
        `Stop what uses it, or choose another port: STACK_FUNCTIONS_PORT=<port> npm run stack -- up`,
    );
  }
  Deno.writeTextFileSync(optionsFile, serialized, { mode: 0o600 });
  spawnDetached(Deno.execPath(), [
    "run",
    "-A",
    join(PROJECT_ROOT, "local-stack", "functions-host", "host.ts"),
    optionsFile,
  ], {
    logFile: logFile(config, "functions"),
    pidFile: pidFile(config, "functions"),
    env: Deno.env.toObject(),
    cwd: PROJECT_ROOT,
  });
  await waitFor("the functions host to listen", () => !portIsFree(config.functionsPort), 20_000);
}
