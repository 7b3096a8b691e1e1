/**
 * The functions' configuration, read once from the environment and validated with zod.
 *
 * A missing or malformed variable stops the function at start with a message naming it (the
 * platform answers 503 BOOT_ERROR and the message is in the function's log); secrets have no
 * defaults. Names never start with `SUPABASE_` except the ones the platform injects.
 */
import { z } from "zod";

const positiveInt = (name: string, fallback: number, max: number) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be an integer`)
    .min(1, `${name} must be at least 1`).max(max, `${name} must be at most ${max}`)
    .default(fallback);

/**
 * The database timeouts every function connection sets (milliseconds). Each keeps a worker
 * from waiting until the platform kills it (150 s wall clock; the sync's budget is 110 s),
 * with a pending write and no record of why:
 *
 *   statementMs          30 s: the sync's largest statement (one account's metrics, a few
 *                        thousand rows) takes well under a second; 30 s leaves room for a
 *                        slow disk and still fails inside the invocation.
 *   lockMs               10 s: a sync's row locks are held for milliseconds, so a longer wait
 *                        means someone else (an operator's LOCK TABLE, a migration) holds the
 *                        table; fail the step and let the next run take it.
 *   idleInTransactionMs  60 s: a transaction left open by a worker that stalled mid-way is
 *                        ended by the server, so its locks do not block every later run.
 */
export const DB_TIMEOUT_DEFAULTS = Object.freeze({
  statementMs: 30_000,
  lockMs: 10_000,
  idleInTransactionMs: 60_000,
});

const isBase64Of32Bytes = (value: string) => {
  try {
    return atob(value.trim()).length === 32;
  } catch {
    return false;
  }
};

const base64Key = z.string({ error: "TOKEN_ENCRYPTION_KEY is required" }).refine(
  isBase64Of32Bytes,
  "TOKEN_ENCRYPTION_KEY must be the base64 of 32 random bytes (openssl rand -base64 32)",
);

// Keys being rotated out: comma-separated, still accepted for decryption only.
const previousKeys = z.string().default("").transform((value) =>
  value.split(",").map((k) => k.trim()).filter((k) => k !== "")
).refine(
  (keys) => keys.every(isBase64Of32Bytes),
  "TOKEN_ENCRYPTION_KEYS_PREVIOUS must be comma-separated base64 keys of 32 bytes each",
);

export const configSchema = z.object({
  SUPABASE_DB_URL: z.string({ error: "SUPABASE_DB_URL is required (the platform injects it)" })
    .regex(/^postgres(ql)?:\/\//, "SUPABASE_DB_URL must be a postgres:// URL"),
  CRON_SECRET: z.string({ error: "CRON_SECRET is required" })
    .min(16, "CRON_SECRET must be at least 16 characters"),
  TOKEN_ENCRYPTION_KEY: base64Key,
  TOKEN_ENCRYPTION_KEYS_PREVIOUS: previousKeys,
  THREADS_API_BASE_URL: z.url("THREADS_API_BASE_URL must be a URL")
    .default("https://graph.threads.net/v1.0"),
  // Accounts in flight at once. Five keeps the database pool and the API budget calm.
  SYNC_BATCH_SIZE: positiveInt("SYNC_BATCH_SIZE", 5, 50),
  // A pause a worker takes between two accounts. The seed design paced the API with a fixed
  // 2 s pause between batches; the shared adaptive rate limiter does that job now, so the
  // default is no pause. Set it to spread load further.
  SYNC_BATCH_DELAY_MS: z.coerce.number().int().min(0, "SYNC_BATCH_DELAY_MS must be >= 0")
    .default(0),
  // The shared limiter's ceiling; it adapts below it when the API pushes back.
  THREADS_API_MAX_RPS: positiveInt("THREADS_API_MAX_RPS", 20, 1000),
  // Below the platform's 150 s wall-clock limit (free plan), leaving time to hand off.
  SYNC_TIME_BUDGET_MS: positiveInt("SYNC_TIME_BUDGET_MS", 110_000, 3_600_000),
  // The platform's wall-clock limit per invocation, which it does not tell the function:
  // 150 s on the free plan, 400 s on paid plans. Only used to refuse a budget that would let
  // the platform kill a worker before it hands off.
  SYNC_WALL_CLOCK_LIMIT_MS: positiveInt("SYNC_WALL_CLOCK_LIMIT_MS", 150_000, 3_600_000),
  // CPU an invocation spends on work before it hands off. Hosted Edge Functions stop a worker
  // at 2 s of CPU per request, boot included; this leaves room for boot (~0.3-0.5 s) and for
  // the accounts in flight to finish.
  SYNC_CPU_BUDGET_MS: positiveInt("SYNC_CPU_BUDGET_MS", 1_200, 60_000),
  // Invocations working one run side by side. Each holds SYNC_BATCH_SIZE + 2 database
  // connections; see SYNC_MAX_DB_CONNECTIONS.
  SYNC_MAX_INVOCATIONS: positiveInt("SYNC_MAX_INVOCATIONS", 4, 64),
  // Direct connections the sync may hold at once (SYNC_MAX_INVOCATIONS x (SYNC_BATCH_SIZE + 2)):
  // the smallest hosted instance allows 60, and the app needs some. Through the transaction
  // pooler (port 6543) raise it to go wider.
  SYNC_MAX_DB_CONNECTIONS: positiveInt("SYNC_MAX_DB_CONNECTIONS", 40, 10_000),
  // The Threads API allows 4,800 x impressions calls per user per rolling 24 h, at least
  // 48,000. An account that has spent 80% of this in the last 24 h is deferred for an hour.
  SYNC_ACCOUNT_DAILY_CALL_BUDGET: positiveInt("SYNC_ACCOUNT_DAILY_CALL_BUDGET", 48_000, 10_000_000),
  // The lease a heartbeat renews: bounds how long a dead worker blocks the schedule.
  SYNC_LOCK_TTL_MINUTES: positiveInt("SYNC_LOCK_TTL_MINUTES", 5, 120),
  // Database timeouts of every function connection (see db.ts and DB_TIMEOUT_DEFAULTS).
  DB_STATEMENT_TIMEOUT_MS: positiveInt(
    "DB_STATEMENT_TIMEOUT_MS",
    DB_TIMEOUT_DEFAULTS.statementMs,
    600_000,
  ),
  DB_LOCK_TIMEOUT_MS: positiveInt("DB_LOCK_TIMEOUT_MS", DB_TIMEOUT_DEFAULTS.lockMs, 600_000),
  DB_IDLE_IN_TRANSACTION_TIMEOUT_MS: positiveInt(
    "DB_IDLE_IN_TRANSACTION_TIMEOUT_MS",
    DB_TIMEOUT_DEFAULTS.idleInTransactionMs,
    3_600_000,
  ),
}).superRefine((config, ctx) => {
  if (config.SYNC_TIME_BUDGET_MS >= config.SYNC_WALL_CLOCK_LIMIT_MS) {
    ctx.addIssue({
      code: "custom",
      path: ["SYNC_TIME_BUDGET_MS"],
      message: `SYNC_TIME_BUDGET_MS must be below SYNC_WALL_CLOCK_LIMIT_MS: current values are ` +
        `${config.SYNC_TIME_BUDGET_MS} and ${config.SYNC_WALL_CLOCK_LIMIT_MS} (the platform ` +
        `would kill the invocation before it hands off; leave it about 40 s of headroom)`,
    });
  }
  const connections = config.SYNC_MAX_INVOCATIONS * (config.SYNC_BATCH_SIZE + 2);
  if (connections > config.SYNC_MAX_DB_CONNECTIONS) {
    ctx.addIssue({
      code: "custom",
      path: ["SYNC_MAX_INVOCATIONS"],
      message: `SYNC_MAX_INVOCATIONS x (SYNC_BATCH_SIZE + 2) must be at most ` +
        `SYNC_MAX_DB_CONNECTIONS: current values are ${config.SYNC_MAX_INVOCATIONS} x ` +
        `(${config.SYNC_BATCH_SIZE} + 2) = ${connections} and ${config.SYNC_MAX_DB_CONNECTIONS} ` +
        `(use the transaction pooler and raise SYNC_MAX_DB_CONNECTIONS to go wider)`,
    });
  }
  // A lock wait is part of its statement: a longer lock_timeout would never fire.
  if (config.DB_LOCK_TIMEOUT_MS > config.DB_STATEMENT_TIMEOUT_MS) {
    ctx.addIssue({
      code: "custom",
      path: ["DB_LOCK_TIMEOUT_MS"],
      message:
        `DB_LOCK_TIMEOUT_MS must be at most DB_STATEMENT_TIMEOUT_MS: current values are ${config.DB_LOCK_TIMEOUT_MS} and ${config.DB_STATEMENT_TIMEOUT_MS}`,
    });
  }
});

export type Config = Readonly<z.infer<typeof configSchema>>;

/** Validates `env`; throws one error listing every bad variable. */
export function loadConfig(env: Record<string, string | undefined>): Config {
  const parsed = configSchema.safeParse(env);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `- ${issue.message}`).join("\n");
    throw new Error(`Cannot start as the configuration is invalid:\n${problems}`);
  }
  return Object.freeze(parsed.data);
}

/** The keys `decrypt` tries, current first. */
export function tokenKeys(config: Config): string[] {
  return [config.TOKEN_ENCRYPTION_KEY, ...config.TOKEN_ENCRYPTION_KEYS_PREVIOUS];
}

let cached: Config | undefined;

/** The process's configuration, validated on first use. */
export function getConfig(): Config {
  cached ??= loadConfig(Deno.env.toObject());
  return cached;
}
