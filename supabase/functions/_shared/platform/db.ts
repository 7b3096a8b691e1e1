/**
 * The functions' database connection: postgres.js over SUPABASE_DB_URL, which the platform
 * injects into every function. `prepare: false` because hosted projects may route it through
 * Supabase's transaction pooler, where prepared statements do not survive between transactions.
 *
 * Every connection sets statement_timeout, lock_timeout and
 * idle_in_transaction_session_timeout as startup parameters (they take precedence over the
 * role's defaults), so a worker stuck behind another session's lock or on a runaway statement
 * fails with SQLSTATE 55P03 / 57014, which jobs/sync-log-error.ts records as `database_timeout`, instead
 * of being killed by the platform with a write pending. (A pooler that drops startup
 * parameters, e.g. PgBouncer with ignore_startup_parameters, leaves the role's defaults.)
 */
import postgres from "postgres";
import { type Config, DB_TIMEOUT_DEFAULTS } from "./config.ts";

export type Sql = postgres.Sql;

export interface DbTimeouts {
  statementMs: number;
  lockMs: number;
  idleInTransactionMs: number;
}

/** The timeouts the configuration asks for (DB_*_TIMEOUT_MS). */
export function dbTimeouts(config: Config): DbTimeouts {
  return {
    statementMs: config.DB_STATEMENT_TIMEOUT_MS,
    lockMs: config.DB_LOCK_TIMEOUT_MS,
    idleInTransactionMs: config.DB_IDLE_IN_TRANSACTION_TIMEOUT_MS,
  };
}

export function connect(
  url: string,
  options: { max?: number; timeouts?: DbTimeouts } = {},
): Sql {
  const timeouts = options.timeouts ?? DB_TIMEOUT_DEFAULTS;
  return postgres(url, {
    prepare: false,
    max: options.max ?? 5,
    idle_timeout: 20,
    connect_timeout: 10,
    onnotice: () => {},
    connection: {
      application_name: "threads-sync",
      // Plain numbers are milliseconds for these settings.
      statement_timeout: timeouts.statementMs,
      lock_timeout: timeouts.lockMs,
      idle_in_transaction_session_timeout: timeouts.idleInTransactionMs,
    },
  });
}
