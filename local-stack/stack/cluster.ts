/**
 * The local stack's private PostgreSQL 15 cluster: created in `.stack/<name>/pgdata`, never
 * the system cluster, listening on 127.0.0.1 only, with pg_cron preloaded and Supabase's
 * roles, schemas and stand-ins installed before any migration runs.
 */
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { chmod, chown, copyFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { CLUSTER_USER, IS_ROOT, portIsFree, run, runOrThrow } from "./process.ts";
import { dbUrl, PROJECT_ROOT, type StackConfig } from "./config.ts";

export const PG_BIN = "/usr/lib/postgresql/15/bin";
const SQL_DIR = join(PROJECT_ROOT, "local-stack", "sql");
const PG_NET_DIR = join(PROJECT_ROOT, "local-stack", "pg-net");

export const clusterPaths = (config: StackConfig) => ({
  data: join(config.dir, "pgdata"),
  socketDir: join(config.dir, "run"),
  log: join(config.dir, "logs", "postgres.log"),
});

/** Fails with the exact install command when the Debian packages are missing. */
export function assertPostgresInstalled(): void {
  const missing: string[] = [];
  if (!existsSync(join(PG_BIN, "postgres"))) missing.push("postgresql-15");
  if (!existsSync("/usr/share/postgresql/15/extension/pg_cron.control")) {
    missing.push("postgresql-15-cron");
  }
  if (!existsSync("/usr/share/postgresql/15/extension/pgtap.control")) {
    missing.push("postgresql-15-pgtap");
  }
  if (!existsSync("/usr/share/postgresql/15/extension/plpgsql_check.control")) {
    missing.push("postgresql-15-plpgsql-check");
  }
  if (missing.length > 0) {
    throw new Error(
      `Cannot start the local database as Debian packages are missing: ${missing.join(", ")}.\n` +
        `Install them with: sudo apt-get update && sudo apt-get install -y ${missing.join(" ")}`,
    );
  }
}

/**
 * Installs the pg_net stand-in's control and script files into PostgreSQL's extension folder,
 * so migrations can `create extension pg_net` unchanged. Needs root (the folder is the
 * system's); without root it names the command to run.
 */
export async function installPgNetStandin(): Promise<void> {
  const target = "/usr/share/postgresql/15/extension";
  const files = ["pg_net.control", "pg_net--0.14.0.sql"];
  const upToDate = files.every((f) => {
    const dest = join(target, f);
    return existsSync(dest) &&
      Deno.readTextFileSync(dest) === Deno.readTextFileSync(join(PG_NET_DIR, f));
  });
  if (upToDate) return;
  if (!IS_ROOT) {
    throw new Error(
      `Cannot install the pg_net stand-in as ${target} is writable by root only.\n` +
        `Run once: sudo cp ${files.map((f) => join(PG_NET_DIR, f)).join(" ")} ${target}/`,
    );
  }
  for (const f of files) await copyFile(join(PG_NET_DIR, f), join(target, f));
}

/** Lets the cluster's user reach `path` by adding search (x) permission on its ancestors. */
async function ensureTraversable(path: string): Promise<void> {
  if (!IS_ROOT) return;
  for (let dir = dirname(path); dir !== "/"; dir = dirname(dir)) {
    const mode = statSync(dir).mode;
    if ((mode & 0o001) === 0) await chmod(dir, mode | 0o001);
  }
}

async function chownToClusterUser(path: string): Promise<void> {
  if (!CLUSTER_USER) return;
  const uid = Number(
    (await runOrThrow("look up the postgres user", "id", ["-u", CLUSTER_USER])).stdout,
  );
  const gid = Number(
    (await runOrThrow("look up the postgres group", "id", ["-g", CLUSTER_USER])).stdout,
  );
  await chown(path, uid, gid);
}

/** Creates the cluster on first use; later calls keep its data. */
export async function initCluster(config: StackConfig): Promise<boolean> {
  const paths = clusterPaths(config);
  if (existsSync(join(paths.data, "PG_VERSION"))) return false;
  assertPostgresInstalled();
  for (const dir of [config.dir, join(config.dir, "logs"), paths.socketDir, paths.data]) {
    mkdirSync(dir, { recursive: true });
  }
  await ensureTraversable(paths.data);
  for (const dir of [join(config.dir, "logs"), paths.socketDir, paths.data]) {
    await chownToClusterUser(dir);
  }
  const pwFile = join(paths.socketDir, "pwfile");
  Deno.writeTextFileSync(pwFile, "postgres\n");
  await chownToClusterUser(pwFile);
  await runOrThrow("create the local cluster", join(PG_BIN, "initdb"), [
    "-D",
    paths.data,
    "-U",
    "postgres",
    "--pwfile",
    pwFile,
    "--encoding",
    "UTF8",
    "--locale",
    "C.UTF-8",
    "--auth-local",
    "trust",
    "--auth-host",
    "scram-sha-256",
  ], { asClusterUser: true });
  Deno.removeSync(pwFile);
  // Settings of a hosted project that the product relies on, plus local-only speedups.
  const settings = `
# Written by the local stack (local-stack/stack/cluster.ts).
listen_addresses = '127.0.0.1'
unix_socket_directories = '${paths.socketDir}'
shared_preload_libraries = 'pg_cron'
cron.database_name = 'postgres'
# Run cron jobs in background workers, as hosted projects do, so no password is needed.
cron.use_background_workers = on
max_worker_processes = 32
timezone = 'UTC'
log_timezone = 'UTC'
max_connections = 200
# A throwaway development cluster: durability is traded for speed.
fsync = off
synchronous_commit = off
full_page_writes = off
`;
  Deno.writeTextFileSync(join(paths.data, "postgresql.conf"), settings, { append: true });
  return true;
}

export async function clusterIsRunning(config: StackConfig): Promise<boolean> {
  const paths = clusterPaths(config);
  if (!existsSync(join(paths.data, "PG_VERSION"))) return false;
  const result = await run(join(PG_BIN, "pg_ctl"), ["-D", paths.data, "status"], {
    asClusterUser: true,
  });
  return result.code === 0;
}

export async function startCluster(config: StackConfig): Promise<void> {
  if (await clusterIsRunning(config)) return;
  if (!portIsFree(config.dbPort)) {
    throw new Error(
      `Cannot start the local database as port ${config.dbPort} on 127.0.0.1 is in use.\n` +
        `Stop what uses it, or choose another port: STACK_DB_PORT=<port> npm run stack -- up`,
    );
  }
  const paths = clusterPaths(config);
  await runOrThrow("start the local database", join(PG_BIN, "pg_ctl"), [
    "-D",
    paths.data,
    "-l",
    paths.log,
    "-o",
    `-p ${config.dbPort}`,
    "-w",
    "-t",
    "60",
    "start",
  ], { asClusterUser: true });
}

export async function stopCluster(config: StackConfig): Promise<boolean> {
  if (!(await clusterIsRunning(config))) return false;
  await runOrThrow("stop the local database", join(PG_BIN, "pg_ctl"), [
    "-D",
    clusterPaths(config).data,
    "-m",
    "fast",
    "-w",
    "-t",
    "60",
    "stop",
  ], { asClusterUser: true });
  return true;
}

/** Runs SQL through psql over TCP as the `postgres` superuser; stops at the first error. */
export async function psql(
  config: StackConfig,
  sql: string,
  options: { database?: string; file?: string } = {},
): Promise<string> {
  const args = ["-X", "-q", "-t", "-A", "-v", "ON_ERROR_STOP=1", dbUrl(config, options.database)];
  if (options.file) args.push("-f", options.file);
  else args.push("-c", sql);
  const result = await runOrThrow(`run SQL on the local database`, "psql", args);
  return result.stdout.trim();
}

/**
 * Installs what a hosted project has before its first migration: roles, schemas, default
 * privileges, Vault stand-in. Idempotent.
 */
export async function bootstrapPlatform(config: StackConfig): Promise<void> {
  for (const file of ["supabase-platform.sql", "vault-standin.sql"]) {
    await psql(config, "", { file: join(SQL_DIR, file) });
  }
}

/** Lists the migration files, in the order the supabase CLI applies them. */
export function migrationFiles(): string[] {
  return readdirSync(join(PROJECT_ROOT, "supabase", "migrations"))
    .filter((f) => /^\d{14}_.+\.sql$/.test(f)).sort();
}
