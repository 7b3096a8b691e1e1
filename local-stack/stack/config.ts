/**
 * Where a local stack lives and which ports it uses.
 *
 * One project can run several stacks side by side (the developer's own on Supabase's local
 * ports, and a private one for `npm test`), each in its own folder under `.stack/` with its
 * own cluster, secrets, pid files and logs.
 */
import { fileURLToPath } from "node:url";
import { dirname, join, resolve } from "node:path";

/** The project root: the folder holding package.json and supabase/. */
export const PROJECT_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export interface StackConfig {
  /** Instance name; its files live in `.stack/<name>/`. */
  name: string;
  dir: string;
  dbPort: number;
  functionsPort: number;
  simulatorPort: number;
  /** FUNCTIONS_WALL_CLOCK_LIMIT_MS: the per-invocation wall-clock limit the functions host enforces. */
  wallClockLimitMs: number;
  /** FUNCTIONS_CPU_LIMIT_MS: CPU time per invocation, boot included (the platform's 2 s). */
  cpuLimitMs: number;
  /** FUNCTIONS_MEMORY_LIMIT_MB: resident memory per invocation (the platform's 256 MB). */
  memoryLimitMb: number;
  /** Extra folders of functions to serve beside supabase/functions (tests use fixtures). */
  extraFunctionsDirs: string[];
  /** When set, the functions talk to this Threads API instead of the bundled simulator. */
  threadsApiBaseUrl?: string;
}

function intFromEnv(env: Record<string, string>, key: string, fallback: number): number {
  const raw = env[key];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) {
    throw new Error(`${key} must be a positive integer: current value is "${raw}"`);
  }
  return value;
}

/**
 * Reads the stack's settings from the environment. Defaults are Supabase's local ports
 * (database 54322, API and functions 54321) so URLs match what `supabase start` would print.
 */
export function stackConfigFromEnv(env: Record<string, string> = Deno.env.toObject()): StackConfig {
  const name = env.STACK_NAME || "dev";
  if (!/^[a-z0-9][a-z0-9-]{0,40}$/.test(name)) {
    throw new Error(
      `STACK_NAME must be lowercase letters, digits and dashes: current value is "${name}"`,
    );
  }
  return {
    name,
    dir: join(PROJECT_ROOT, ".stack", name),
    dbPort: intFromEnv(env, "STACK_DB_PORT", 54322),
    functionsPort: intFromEnv(env, "STACK_FUNCTIONS_PORT", 54321),
    simulatorPort: intFromEnv(env, "STACK_SIMULATOR_PORT", 54329),
    wallClockLimitMs: intFromEnv(env, "FUNCTIONS_WALL_CLOCK_LIMIT_MS", 150_000),
    cpuLimitMs: intFromEnv(env, "FUNCTIONS_CPU_LIMIT_MS", 2_000),
    memoryLimitMb: intFromEnv(env, "FUNCTIONS_MEMORY_LIMIT_MB", 256),
    extraFunctionsDirs: (env.STACK_EXTRA_FUNCTIONS_DIRS ?? "").split(":").filter((d) => d !== "")
      .map((d) => resolve(PROJECT_ROOT, d)),
    threadsApiBaseUrl: env.THREADS_API_BASE_URL || undefined,
  };
}

/** The database URL of a stack, as `supabase status` prints it for a local project. */
export function dbUrl(config: Pick<StackConfig, "dbPort">, database = "postgres"): string {
  return `postgresql://postgres:postgres@127.0.0.1:${config.dbPort}/${database}`;
}

export function functionsUrl(config: Pick<StackConfig, "functionsPort">): string {
  return `http://127.0.0.1:${config.functionsPort}/functions/v1`;
}
