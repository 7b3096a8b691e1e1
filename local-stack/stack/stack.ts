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
import { applyMonitoringSettings } from "./monitoring-settings.ts";
import { pidFile, startPgNetWorker, startSimulator, threadsApiBaseUrl } from "./services.ts";
import { startFunctionsHost } from "./functions-service.ts";

export { readHostOptions } from "./functions-service.ts";
export type { StackSecrets } from "./secrets.ts";
export { applyMonitoringSettings } from "./monitoring-settings.ts";

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

/** Applies supabase/migrations with the supabase CLI, as `supabase db push` does on a project. */
export async function applyMigrations(config: StackConfig): Promise<void> {
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
