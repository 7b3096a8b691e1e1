/**
 * The Docker-free local Supabase stack: `up`, `down`, `status` and `wipe`, used by the CLI
 * (`npm run stack -- <command>`), by `npm start`, by the test runner and by benchmarks.
 *
 * Components, each idempotent to start:
 *   database        private PostgreSQL 15 cluster (cluster.ts), migrations applied with the
 *                   real supabase CLI, Vault secrets `project_url` and `cron_secret` set
 *   pg-net          the pg_net stand-in's delivery worker (pg-net/worker.ts; services.ts)
 *   simulator       the Threads API simulator, unless THREADS_API_BASE_URL points elsewhere
 *                   (services.ts)
 *   functions       the functions host (functions-host/host.ts; functions-service.ts)
 * The secrets they share are secrets.ts.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import {
  bootstrapPlatform,
  clusterIsRunning,
  initCluster,
  installPgNetStandin,
  psql,
  startCluster,
  stopCluster,
} from "./cluster.ts";
import { livePid, runOrThrow, stopPidFile } from "./process.ts";
import { dbUrl, functionsUrl, PROJECT_ROOT, type StackConfig } from "./config.ts";
import { loadSecrets, readSecrets, type StackSecrets } from "./secrets.ts";
import { pidFile, startPgNetWorker, startSimulator, threadsApiBaseUrl } from "./services.ts";
import { startFunctionsHost } from "./functions-service.ts";

<<<<<<< HEAD
export interface StackSecrets {
  jwtSecret: string;
  cronSecret: string;
  connectAccountSecret: string;
  metricsSecret: string;
  tokenEncryptionKey: string;
  anonKey: string;
  serviceRoleKey: string;
}
=======
export { readHostOptions } from "./functions-service.ts";
export type { StackSecrets } from "./secrets.ts";
>>>>>>> i14-threads

export interface StackStatus {
  name: string;
  dbUrl: string;
  apiUrl: string;
  functionsUrl: string;
  threadsApiBaseUrl: string;
  cronSecret: string;
  connectAccountSecret: string;
  metricsSecret: string;
  tokenEncryptionKey: string;
  anonKey: string;
  serviceRoleKey: string;
  wallClockLimitMs: number;
  cpuLimitMs: number;
  memoryLimitMb: number;
  logsDir: string;
  services: Record<
    "database" | "pgNet" | "simulator" | "functions",
    "running" | "stopped" | "external"
  >;
}

<<<<<<< HEAD
const SIMULATOR_CLI = join(PROJECT_ROOT, "local-stack", "simulator", "cli.ts");
/** Variables of the `up` environment handed to the functions, as `supabase secrets set` would. */
const PASSTHROUGH =
  /^(SYNC_|THREADS_|TOKEN_|CRON_SECRET$|CONNECT_ACCOUNT_SECRET$|METRICS_SECRET$|LOG_)/;

const pidFile = (config: StackConfig, component: string) => join(config.dir, `${component}.pid`);
const logFile = (config: StackConfig, component: string) =>
  join(config.dir, "logs", `${component}.log`);

function randomBase64(bytes: number): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(bytes))));
}

/** Secrets generated once per stack and kept in `.stack/<name>/secrets.json`. */
async function loadSecrets(
  config: StackConfig,
  env: Record<string, string>,
): Promise<StackSecrets> {
  const file = join(config.dir, "secrets.json");
  let stored: Partial<StackSecrets> = {};
  if (existsSync(file)) stored = JSON.parse(Deno.readTextFileSync(file));
  const jwtSecret = stored.jwtSecret ?? randomBase64(32);
  const secrets: StackSecrets = {
    jwtSecret,
    cronSecret: env.CRON_SECRET || stored.cronSecret || randomBase64(24).replace(/[+/=]/g, ""),
    // connect-account's own secret (at least 32 bytes), never the cron secret.
    connectAccountSecret: env.CONNECT_ACCOUNT_SECRET || stored.connectAccountSecret ||
      randomBase64(33).replace(/[+/=]/g, "x"),
    // The metrics function's own secret (at least 32 bytes), for a Prometheus scrape job.
    metricsSecret: env.METRICS_SECRET || stored.metricsSecret ||
      randomBase64(33).replace(/[+/=]/g, "x"),
    tokenEncryptionKey: env.TOKEN_ENCRYPTION_KEY || stored.tokenEncryptionKey || randomBase64(32),
    // Long-lived keys like the ones `supabase start` prints for a local project.
    anonKey: stored.anonKey ??
      await signJwt({ iss: "supabase-local", role: "anon", exp: 4102444800 }, jwtSecret),
    serviceRoleKey: stored.serviceRoleKey ??
      await signJwt({ iss: "supabase-local", role: "service_role", exp: 4102444800 }, jwtSecret),
  };
  mkdirSync(config.dir, { recursive: true });
  Deno.writeTextFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

function simulatorUrl(config: StackConfig): string {
  return `http://127.0.0.1:${config.simulatorPort}/v1.0`;
}

function threadsApiBaseUrl(config: StackConfig): string {
  return config.threadsApiBaseUrl ?? simulatorUrl(config);
}

/** Applies supabase/migrations with the supabase CLI, as `supabase db push` does on a project. */
export async function applyMigrations(config: StackConfig): Promise<void> {
=======
async function applyMigrations(config: StackConfig): Promise<void> {
>>>>>>> i14-threads
  // --yes: without a terminal the CLI otherwise asks for confirmation, changes nothing and
  // still exits 0. sslmode=disable: the local cluster has no TLS.
  await runOrThrow("apply the migrations", join(PROJECT_ROOT, "node_modules", ".bin", "supabase"), [
    "migration",
    "up",
    "--db-url",
    `${dbUrl(config)}?sslmode=disable`,
    "--yes",
  ], {
    cwd: PROJECT_ROOT,
    env: { ...Deno.env.toObject(), SUPABASE_TELEMETRY_DISABLED: "1", DO_NOT_TRACK: "1" },
  });
}

/** Points Vault at this stack's functions, as an operator does once on a hosted project. */
async function setVaultSecrets(config: StackConfig, secrets: StackSecrets): Promise<void> {
  const apiUrl = `http://127.0.0.1:${config.functionsPort}`;
  const upsert = (name: string, value: string) => `
    select case
      when exists (select 1 from vault.secrets where name = '${name}')
      then (select vault.update_secret(id, '${value}') from vault.secrets where name = '${name}')::text
      else vault.create_secret('${value}', '${name}')::text
    end;`;
  // Values are generated here (base64 and a URL), never user input, so quoting is safe.
  await psql(config, upsert("project_url", apiUrl) + upsert("cron_secret", secrets.cronSecret));
}

<<<<<<< HEAD
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

async function startSimulator(config: StackConfig): Promise<void> {
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

function startPgNetWorker(config: StackConfig): void {
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
async function startFunctionsHost(
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

=======
>>>>>>> i14-threads
/** Brings every component up; harmless when they already run. */
export async function up(
  config: StackConfig,
  env: Record<string, string> = Deno.env.toObject(),
  progress: (step: string) => void = () => {},
): Promise<StackStatus> {
  mkdirSync(join(config.dir, "logs"), { recursive: true });
  const secrets = await loadSecrets(config, env);
  progress("database");
  await installPgNetStandin();
  await initCluster(config);
  await startCluster(config);
  await bootstrapPlatform(config);
  progress("migrations");
  await applyMigrations(config);
  await setVaultSecrets(config, secrets);
  await applyMonitoringSettings(config, env);
  progress("pg_net worker");
  startPgNetWorker(config);
  progress("Threads API simulator");
  await startSimulator(config);
  progress("functions host");
  await startFunctionsHost(config, secrets, env);
  return status(config);
}

/** Stops every process the stack started; keeps the data (like `supabase stop`). */
export async function down(config: StackConfig): Promise<void> {
  await stopPidFile(pidFile(config, "functions"));
  await stopPidFile(pidFile(config, "pg-net"));
  await stopPidFile(pidFile(config, "simulator"));
  await stopCluster(config);
}

/** Stops the stack and deletes its data, secrets and logs. */
export async function wipe(config: StackConfig): Promise<void> {
  await down(config);
  rmSync(config.dir, { recursive: true, force: true });
}

export async function status(config: StackConfig): Promise<StackStatus> {
  const secrets = readSecrets(config);
  const state = (component: string) =>
    livePid(pidFile(config, component)) ? "running" as const : "stopped" as const;
  return {
    name: config.name,
    dbUrl: dbUrl(config),
    apiUrl: `http://127.0.0.1:${config.functionsPort}`,
    functionsUrl: functionsUrl(config),
    threadsApiBaseUrl: threadsApiBaseUrl(config),
    cronSecret: secrets.cronSecret ?? "",
    connectAccountSecret: secrets.connectAccountSecret ?? "",
    metricsSecret: secrets.metricsSecret ?? "",
    tokenEncryptionKey: secrets.tokenEncryptionKey ?? "",
    anonKey: secrets.anonKey ?? "",
    serviceRoleKey: secrets.serviceRoleKey ?? "",
    wallClockLimitMs: config.wallClockLimitMs,
    cpuLimitMs: config.cpuLimitMs,
    memoryLimitMb: config.memoryLimitMb,
    logsDir: join(config.dir, "logs"),
    services: {
      database: (await clusterIsRunning(config)) ? "running" : "stopped",
      pgNet: state("pg-net"),
      simulator: config.threadsApiBaseUrl ? "external" : state("simulator"),
      functions: state("functions"),
    },
  };
}
